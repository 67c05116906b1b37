// `npm run bench:demo`: the demo page as a person meets it. Per page open:
// open → protected (the secondary holds a complete checkpoint), and where that
// time went (the page's script, the shared fetch of the guest's files, each
// PC's start: its files, WebAssembly and v86, the snapshot's restore; then the
// first checkpoint); the bytes fetched; the memory the page added 15 s after
// protected (all of Chromium's processes: resident, proportional, after every
// worker collected its garbage; the pair's WebAssembly memories; the JS heaps).
// Then faults of every kind in turn (freeze primary, kill primary, kill
// secondary, cut the link), clicked 2 s apart with "re-protect automatically"
// ticked, as a person would: for each, the time from the click, and from the
// page saying unprotected, to protected again; the worst is printed beside the
// median. Every wait has a deadline, and a run that misses one says which
// open, which step and what the page said.
//   --site S    built (default): the built site from a plain static server; start: what `npm start` serves,
//               started by running it (its start is timed too); dev: vite's dev server (`npm run dev`)
//   --opens N   page opens (default 5); the first is also reported apart (a cold cache and server)
//   --faults N  faults per open (default 8)
//   --out FILE  (default bench-results/demo.json) the figures as JSON
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM_ARGS, chromiumPath } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import { formatSummary, quartiles, summarize } from '../engine/shared/statistics.ts';
import { numberOption, option, Stalled, withDeadline } from './cli.ts';
import { jsHeaps } from './js-heaps.ts';
import { treeMemory } from './process-memory.ts';
import { BenchReport, machine } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
/** How long after protected the page's memory is read: the pair checkpoints and serves meanwhile, and the warm spare starts. */
const SETTLE_MS = 15_000;
/** Reading the memory of the page and its workers: one that takes longer has hung, and is named. */
const MEMORY_READ_DEADLINE_MS = 30_000;
const FAULT_KINDS = ['freeze-primary', 'kill-primary', 'kill-secondary', 'cut-link'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
/** Faults are clicked this far apart (or, if the pair is not protected again by then, once it is). */
const FAULT_EVERY_MS = 2000;
/** The longest any one step may take before the run is called stalled. */
const STEP_DEADLINE_MS = 60_000;

interface PcStart {
  /** From the worker's making to the PC holding the booted snapshot, as the page waited for it. */
  totalMs: number;
  /** When that was, in the page's time. */
  endMs: number;
  sharedFilesMs: number;
  assetsMs: number;
  createMs: number;
  snapshotMs: number;
  restoreMs: number;
}

interface OpenFigures {
  protectedMs: number;
  scriptMs: number;
  fetchMs: number;
  pcStarts: PcStart[];
  fetchedBytes: number;
}

interface FaultFigures {
  kind: FaultKind;
  /** Click → protected again. */
  clickMs: number;
  /** The page says unprotected → protected again. */
  noticedMs: number;
  spareWasReady: boolean;
}

/** Waits for `condition` in the page, or fails naming the step and what the page's status said. */
async function step(page: Page, what: string, condition: (at: number) => boolean, arg = 0): Promise<void> {
  try {
    await page.waitForFunction(condition, arg, { timeout: STEP_DEADLINE_MS });
  } catch {
    const status = await page.textContent('[data-status]').catch(() => 'no page');
    throw new Stalled(`${what}: not within ${STEP_DEADLINE_MS / 1000} s; the page said "${status ?? ''}"`);
  }
}

/** Clicks a control from inside the page, returning the page's time of the click. */
function clickNow(page: Page, action: string): Promise<number> {
  return page.evaluate((name) => {
    const at = performance.now();
    document.querySelector<HTMLButtonElement>(`[data-action="${name}"]`)?.click();
    return at;
  }, action);
}

/** Every PC's start in the page so far, from its performance timeline (the pair's two first, then the spares'). */
function readPcStarts(page: Page): Promise<PcStart[]> {
  return page.evaluate(() =>
    (performance.getEntriesByName('colo:pc-start') as PerformanceMeasure[]).map((m) => {
      const d = m.detail as { sharedFilesMs: number; assetsMs: number; createMs: number; snapshotMs: number; restoreMs: number };
      return {
        totalMs: m.duration,
        endMs: m.startTime + m.duration,
        sharedFilesMs: d.sharedFilesMs,
        assetsMs: d.assetsMs,
        createMs: d.createMs,
        snapshotMs: d.snapshotMs,
        restoreMs: d.restoreMs,
      };
    }),
  );
}

/** Where the page's time to protected went, from its own performance timeline. */
async function openFigures(page: Page, fetchedBytes: number): Promise<OpenFigures> {
  const timing = await page.evaluate(() => {
    const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    const guestFiles = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((e) => /\.(v86gz|wasmgz|bin|json)$/.test(e.name));
    return {
      protectedMs: Number(document.body.dataset.protectedMs),
      scriptMs: navigation?.domContentLoadedEventEnd ?? NaN,
      fetchMs: Math.max(...guestFiles.map((e) => e.responseEnd)),
    };
  });
  return { fetchedBytes, ...timing, pcStarts: (await readPcStarts(page)).slice(0, 2) };
}

/** The faults in turn, `FAULT_EVERY_MS` apart, each on a protected pair; how long re-protection took after each. */
async function faults(page: Page, count: number): Promise<FaultFigures[]> {
  await page.check('[data-control="auto-reprotect"]');
  const figures: FaultFigures[] = [];
  let lastClick = -Infinity;
  for (let i = 0; i < count; i++) {
    const kind = FAULT_KINDS[i % FAULT_KINDS.length] ?? 'kill-primary';
    await step(page, `fault ${i + 1} (${kind}): the pair protected`, () => document.body.dataset.protected === 'true');
    const wait = lastClick + FAULT_EVERY_MS - (await page.evaluate(() => performance.now()));
    if (wait > 0) await page.waitForTimeout(wait);
    const spareWasReady = (await page.getAttribute('body', 'data-spare')) === 'ready';
    const clickedAt = await clickNow(page, kind);
    lastClick = clickedAt;
    await step(
      page,
      `fault ${i + 1} (${kind}): protected again`,
      (at: number) => document.body.dataset.protected === 'true' && Number(document.body.dataset.protectedAt) > at,
      clickedAt,
    );
    const [protectedAt, unprotectedAt] = await page.evaluate(() => [Number(document.body.dataset.protectedAt), Number(document.body.dataset.unprotectedAt)]);
    figures.push({ kind, clickMs: protectedAt - clickedAt, noticedMs: protectedAt - unprotectedAt, spareWasReady });
  }
  return figures;
}

const mb = (bytes: number | undefined) => `${((bytes ?? NaN) / 1e6).toFixed(1)} MB`;
const ms = (values: readonly number[]) => formatSummary(summarize(values), 'ms');

type Site = 'built' | 'start' | 'dev';

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (!address || typeof address === 'string') throw new Error('bench: no free port');
  return address.port;
}

/** `npm start` itself, until it serves the page: how long that took, and how to stop it. */
async function npmStart(): Promise<{ url: string; startMs: number; close(): Promise<void> }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn('npm', ['start', '--', '--port', String(port), '--strictPort'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = `http://127.0.0.1:${port}/`;
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`npm start: not serving ${url} within ${STEP_DEADLINE_MS / 1000} s`)), STEP_DEADLINE_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes(url)) {
        clearTimeout(deadline);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`npm start: ended with ${code} before it served the page`)));
  });
  const startMs = performance.now() - t0;
  return {
    url,
    startMs,
    close: async () => {
      if (child.pid !== undefined) process.kill(-child.pid);
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The site to open, and how long its server took to start (`npm start` only). */
async function serveSite(site: Site): Promise<{ url: string; startMs?: number; close(): Promise<void> }> {
  if (site === 'start') return npmStart();
  if (site === 'built') {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
    return serveStatic(join(ROOT, 'dist'));
  }
  const server = await createServer({ configFile: join(ROOT, 'vite.config.ts'), server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite: no listening address');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

const SITES: Record<Site, { title: string; command: string }> = {
  built: { title: 'The demo page, built, from a plain static server', command: 'npm run bench:demo' },
  start: { title: 'The demo page from `npm start`', command: 'npm run bench:demo -- --site start' },
  dev: { title: "The demo page from vite's dev server (`npm run dev`)", command: 'npm run bench:demo -- --site dev' },
};

async function main(): Promise<void> {
  const site = (option('--site') ?? 'built') as Site;
  if (!(site in SITES)) throw new Error(`bench:demo: --site is built, start or dev, not ${site}`);
  const opens = numberOption('--opens', 5);
  const faultsPerOpen = numberOption('--faults', 8);
  const out = option('--out') ?? join(ROOT, 'bench-results', `demo-${site}.json`);
  const served = await serveSite(site);
  // A server, not a plain launch: its process is the root of the tree whose memory is read.
  // gc() in every worker and the page, to tell live memory from garbage not yet collected.
  const server = await chromium.launchServer({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'] });
  const browserPid = server.process().pid;
  if (browserPid === undefined) throw new Error('bench: Chromium has no process id');
  const browser = await chromium.connect(server.wsEndpoint());
  // One context: from the second open on, the browser's cache is warm, as for a person who opens the page again.
  const context = await browser.newContext();
  const runs: OpenFigures[] = [];
  const faultRuns: FaultFigures[] = [];
  /** The spares' starts (the warm one and those after each fault), with files the page already holds. */
  const spareStarts: PcStart[] = [];
  const memory = { rss: [] as number[], pss: [] as number[], afterGc: [] as number[], wasm: [] as number[], heaps: [] as number[], buffers: [] as number[] };
  let stalled: string | undefined;
  try {
    for (let i = 0; i < opens; i++) {
      const page = await context.newPage();
      const before = treeMemory(browserPid);
      let bytes = 0;
      let counting = true;
      page.on('requestfinished', (request) => {
        void request.sizes().then((sizes) => {
          if (counting) bytes += Math.max(0, sizes.responseBodySize) + Math.max(0, sizes.responseHeadersSize);
        });
      });
      try {
        await page.goto(served.url);
        await step(page, `open ${i + 1}: protected`, () => document.body.dataset.protected === 'true' || document.body.dataset.state === 'failed');
        counting = false;
        if ((await page.getAttribute('body', 'data-state')) === 'failed')
          throw new Stalled(`open ${i + 1}: the page failed: ${await page.textContent('[data-status]')}`);
        const run = await openFigures(page, bytes);
        runs.push(run);
        // The fixed wait is the measurement's definition: memory once the pair has run a while (and the warm spare has started).
        await page.waitForTimeout(SETTLE_MS);
        const settled = treeMemory(browserPid);
        memory.rss.push(settled.rss - before.rss);
        memory.pss.push(settled.pss - before.pss);
        const heaps = await withDeadline(jsHeaps(browser), MEMORY_READ_DEADLINE_MS, `open ${i + 1}: reading the JS heaps`);
        memory.heaps.push(heaps.reduce((sum, heap) => sum + heap.used, 0));
        memory.buffers.push(heaps.reduce((sum, heap) => sum + heap.buffers, 0));
        const collect = () => (globalThis as unknown as { gc?: () => void }).gc?.();
        await withDeadline(
          Promise.all([page.evaluate(collect), ...page.workers().map((worker) => worker.evaluate(collect))]),
          MEMORY_READ_DEADLINE_MS,
          `open ${i + 1}: collecting garbage in the page and its workers`,
        );
        memory.afterGc.push(treeMemory(browserPid).rss - before.rss);
        const pcs = await page.$$eval('[data-memory-bytes]', (spans) => spans.map((span) => Number(span.getAttribute('data-memory-bytes'))));
        memory.wasm.push(pcs.reduce((a, b) => a + b, 0));
        const starts = run.pcStarts.map(
          (s) =>
            `${s.totalMs.toFixed(0)} ms (shared files ${s.sharedFilesMs.toFixed(0)}, own files ${s.assetsMs.toFixed(0)}, v86 ${s.createMs.toFixed(0)}, rest of the snapshot ${s.snapshotMs.toFixed(0)}, restore ${s.restoreMs.toFixed(0)})`,
        );
        const faulted = await faults(page, faultsPerOpen);
        faultRuns.push(...faulted);
        spareStarts.push(...(await readPcStarts(page)).slice(2));
        console.log(
          `open ${i + 1}/${opens}: protected after ${run.protectedMs} ms (script ${run.scriptMs.toFixed(0)}, files fetched ${run.fetchMs.toFixed(0)}, ` +
            `PCs started ${starts.join(' and ')}), ${mb(run.fetchedBytes)} fetched; ${SETTLE_MS / 1000} s later ${mb(memory.rss.at(-1))} more resident ` +
            `(proportional ${mb(memory.pss.at(-1))}, ${mb(memory.afterGc.at(-1))} after collecting garbage); ` +
            `re-protected after each fault in ${faulted.map((f) => `${f.kind} ${f.noticedMs.toFixed(0)}`).join(', ')} ms (from unprotected)`,
        );
      } finally {
        await page.close();
      }
    }
  } catch (err) {
    if (!(err instanceof Stalled)) throw err;
    stalled = err.message;
    console.log(`stalled: ${stalled}`);
  } finally {
    await browser.close();
    await server.close();
    await served.close();
  }
  const warm = runs.slice(1);
  const pcStarts = runs.flatMap((r) => r.pcStarts);
  const docs = new BenchReport(site === 'built' ? 'demo' : `demo-${site}`, SITES[site].title, SITES[site].command);
  if (stalled) docs.line(`STALLED: ${stalled}`);
  if (served.startMs !== undefined) docs.line(`npm start → serving the page: ${served.startMs.toFixed(0)} ms`);
  docs.line(`page open → protected, first open: ${runs[0]?.protectedMs ?? NaN} ms; later opens (warm cache): ${ms(warm.map((r) => r.protectedMs))}`);
  docs.line(`  the page's script ran by ${ms(runs.map((r) => r.scriptMs))}; the guest's files fetched by ${ms(runs.map((r) => r.fetchMs))}`);
  docs.line(
    `  a PC's start (worker made → snapshot restored): ${ms(pcStarts.map((s) => s.totalMs))}: shared files ${ms(pcStarts.map((s) => s.sharedFilesMs))}, ` +
      `in the worker: files ${ms(pcStarts.map((s) => s.assetsMs))}, v86 and its WebAssembly ${ms(pcStarts.map((s) => s.createMs))}, ` +
      `the rest of the snapshot (arriving, unpacked) ${ms(pcStarts.map((s) => s.snapshotMs))}, restore ${ms(pcStarts.map((s) => s.restoreMs))}`,
  );
  docs.line(
    `  a spare's start: ${ms(spareStarts.map((s) => s.totalMs))}: in the worker: files ${ms(spareStarts.map((s) => s.assetsMs))}, ` +
      `v86 ${ms(spareStarts.map((s) => s.createMs))}, the rest of the snapshot ${ms(spareStarts.map((s) => s.snapshotMs))}, restore ${ms(spareStarts.map((s) => s.restoreMs))}`,
  );
  docs.line(`  PCs started → protected (the first checkpoint): ${ms(runs.map((r) => r.protectedMs - Math.max(...r.pcStarts.map((s) => s.endMs))))}`);
  docs.line(`fetched before protected: ${formatSummary(summarize(runs.map((r) => r.fetchedBytes / 1e6)), 'MB', 1)}`);
  docs.line(
    `resident memory added, ${SETTLE_MS / 1000} s after protected (a warm spare included): ${formatSummary(summarize(memory.rss.map((b) => b / 1e6)), 'MB', 1)}`,
  );
  docs.line(`  proportional (shared pages counted once): ${formatSummary(summarize(memory.pss.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`  after every worker and the page collected garbage: ${formatSummary(summarize(memory.afterGc.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`  the pair's WebAssembly memories: ${formatSummary(summarize(memory.wasm.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`  JS heaps in use (the page and every worker): ${formatSummary(summarize(memory.heaps.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`faults, ${FAULT_EVERY_MS / 1000} s apart, ${faultsPerOpen} per open, "re-protect automatically" ticked:`);
  for (const kind of FAULT_KINDS) {
    const these = faultRuns.filter((f) => f.kind === kind);
    if (these.length === 0) continue;
    const ready = these.filter((f) => f.spareWasReady).length;
    docs.line(
      `  ${kind}: unprotected → protected ${ms(these.map((f) => f.noticedMs))}; click → protected ${ms(these.map((f) => f.clickMs))}; spare ready at the fault ${ready}/${these.length}`,
    );
  }
  const worst = (faults: FaultFigures[]) => (faults.length > 0 ? `${Math.max(...faults.map((f) => f.noticedMs)).toFixed(0)} ms of ${faults.length}` : 'none');
  docs.line(
    `  every fault: unprotected → protected, worst ${worst(faultRuns)}; with the spare ready at the fault, worst ${worst(faultRuns.filter((f) => f.spareWasReady))}`,
  );
  docs.finish();
  const result = {
    machine: machine(),
    date: new Date().toISOString(),
    site,
    ...(served.startMs !== undefined ? { npm_start_ms: served.startMs } : {}),
    ...(stalled ? { stalled } : {}),
    protected_first_ms: runs[0]?.protectedMs,
    protected_ms: quartiles(warm.map((r) => r.protectedMs)),
    pc_start_ms: quartiles(pcStarts.map((s) => s.totalMs)),
    spare_start_ms: quartiles(spareStarts.map((s) => s.totalMs)),
    fetched_bytes: quartiles(runs.map((r) => r.fetchedBytes)),
    added_rss_bytes: quartiles(memory.rss),
    added_pss_bytes: quartiles(memory.pss),
    added_rss_after_gc_bytes: quartiles(memory.afterGc),
    pcs_wasm_bytes: quartiles(memory.wasm),
    js_heap_bytes: quartiles(memory.heaps),
    reprotect_from_unprotected_ms: Object.fromEntries(
      FAULT_KINDS.map((kind) => [kind, quartiles(faultRuns.filter((f) => f.kind === kind).map((f) => f.noticedMs))]),
    ),
    reprotect_from_click_ms: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, quartiles(faultRuns.filter((f) => f.kind === kind).map((f) => f.clickMs))])),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  if (stalled) process.exitCode = 1;
}

await main();
