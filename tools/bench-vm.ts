// `npm run bench:vm`: the VM adapter's baseline figures, printed and written
// as JSON (--out FILE, default bench-results/vm.json).
//   boots       N consecutive kernel boots under Node (default 20); any boot
//               without a shell and ledger within the limit counts as a hang
//   page-open   page open to interactive shell, built site, headless Chromium (5)
//   state       idle guest: state size, saveState and restoreState (10 each),
//               in a Node worker and a Chromium worker
// Options: --boots N, --skip-boots, --out FILE.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { preview } from 'vite';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import { LEDGER_READY, SHELL_PROMPT } from '../engine/vm/guest-protocol.ts';
import type { VmHandle } from '../engine/worker/vm-handle.ts';
import { startBrowserRig } from '../test/browser/chromium.ts';
import { formatSummary, summarize, type Summary } from '../engine/shared/statistics.ts';
import { option } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const ASSETS_DIR = join(ROOT, 'wasm-assets');
const BOOT_LIMIT_MS = 120_000;
const STATE_REPEATS = 10;
const PAGE_OPENS = 5;

async function benchBoots(count: number): Promise<{ ok: number; hung: number; bootMs: Summary }> {
  const times: number[] = [];
  let hung = 0;
  for (let i = 0; i < count; i++) {
    const vm = spawnNodeVm();
    const t0 = performance.now();
    try {
      await vm.start({ mode: 'boot', assetBase: ASSETS_DIR });
      await vm.waitForOutput(0, SHELL_PROMPT, BOOT_LIMIT_MS);
      await vm.waitForOutput(1, LEDGER_READY, BOOT_LIMIT_MS);
      await vm.shell('true');
      times.push(performance.now() - t0);
      console.log(`boot ${i + 1}/${count}: ${(times.at(-1) ?? 0).toFixed(0)} ms`);
    } catch (err) {
      hung++;
      console.log(`boot ${i + 1}/${count}: HUNG (${(err as Error).message.slice(0, 200)})`);
    } finally {
      vm.terminate();
    }
  }
  return { ok: times.length, hung, bootMs: summarize(times) };
}

async function benchNodeState(): Promise<{ stateBytes: number; saveMs: Summary; restoreMs: Summary }> {
  const vm: VmHandle = spawnNodeVm();
  try {
    await vm.start({ mode: 'snapshot', assetBase: ASSETS_DIR });
    await vm.shell('true');
    const save: number[] = [];
    const restore: number[] = [];
    let stateBytes = 0;
    // One warm-up round: the first save and restore in a process are slow (wasm tier-up).
    for (let i = 0; i <= STATE_REPEATS; i++) {
      const t0 = performance.now();
      const state = await vm.saveState();
      const t1 = performance.now();
      stateBytes = state.byteLength;
      await vm.restoreState(state);
      const t2 = performance.now();
      if (i > 0) {
        save.push(t1 - t0);
        restore.push(t2 - t1);
      }
    }
    return { stateBytes, saveMs: summarize(save), restoreMs: summarize(restore) };
  } finally {
    vm.terminate();
  }
}

interface BrowserFigures {
  interactiveMs: Summary;
  stateBytes: number;
  saveMs: Summary;
  restoreMs: Summary;
}

async function benchBrowser(): Promise<BrowserFigures> {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  const server = await preview({ root: ROOT, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
  const rig = await startBrowserRig();
  try {
    const address = server.httpServer.address();
    if (!address || typeof address === 'string') throw new Error('preview: no address');
    const base = `http://127.0.0.1:${address.port}/`;
    const interactive: number[] = [];
    for (let i = 0; i < PAGE_OPENS; i++) {
      const context = await rig.browser.newContext();
      const page = await context.newPage();
      await page.goto(base);
      await page.waitForSelector('body[data-interactive-ms]', { timeout: 60_000 });
      interactive.push(Number(await page.getAttribute('body', 'data-interactive-ms')));
      console.log(`page open ${i + 1}/${PAGE_OPENS}: interactive after ${interactive.at(-1)} ms`);
      await context.close();
    }
    const page = await rig.browser.newPage();
    await page.goto(new URL('/test/browser/blank.html', rig.baseUrl).href);
    const raw = (await page.evaluate(`(async () => {
      const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
      const vm = spawnBrowserVm();
      await vm.start({ mode: 'snapshot', assetBase: new URL('/', location.href).href });
      await vm.shell('true');
      const save = [], restore = [];
      let stateBytes = 0;
      for (let i = 0; i <= ${STATE_REPEATS}; i++) {
        const t0 = performance.now();
        const state = await vm.saveState();
        const t1 = performance.now();
        stateBytes = state.byteLength;
        await vm.restoreState(state);
        const t2 = performance.now();
        if (i > 0) { save.push(t1 - t0); restore.push(t2 - t1); }
      }
      vm.terminate();
      return { stateBytes, save, restore };
    })()`)) as { stateBytes: number; save: number[]; restore: number[] };
    return {
      interactiveMs: summarize(interactive),
      stateBytes: raw.stateBytes,
      saveMs: summarize(raw.save),
      restoreMs: summarize(raw.restore),
    };
  } finally {
    await rig.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  const out = option('--out') ?? join(ROOT, 'bench-results', 'vm.json');
  const boots = process.argv.includes('--skip-boots') ? undefined : await benchBoots(Number(option('--boots') ?? 20));
  const node = await benchNodeState();
  const browser = await benchBrowser();
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    boots,
    node,
    browser,
  };
  const docs = new BenchReport('vm', 'The VM alone', 'npm run bench:vm');
  if (boots) {
    docs.line(`boots (Node): ${boots.ok} ok, ${boots.hung} hung; boot to shell+ledger ${formatSummary(boots.bootMs, 'ms')}`);
  }
  docs.line(`page open → interactive shell (Chromium, built site): ${formatSummary(browser.interactiveMs, 'ms')}`);
  docs.line(`idle state size: ${(node.stateBytes / 1e6).toFixed(1)} MB (Node), ${(browser.stateBytes / 1e6).toFixed(1)} MB (Chromium)`);
  docs.line(`saveState    Node ${formatSummary(node.saveMs, 'ms', 1)}`);
  docs.line(`saveState    Chromium ${formatSummary(browser.saveMs, 'ms', 1)}`);
  docs.line(`restoreState Node ${formatSummary(node.restoreMs, 'ms', 1)}`);
  docs.line(`restoreState Chromium ${formatSummary(browser.restoreMs, 'ms', 1)}`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
