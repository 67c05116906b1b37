// `npm run soak:page`: the demo page as a person leaves it open, for a long
// time (default 10 minutes): built site, headless Chromium rendering it,
// checkpoints every 25 ms, the guest burning CPU on PC A, the page's own client
// traffic. Counts false failovers (a takeover while the primary still
// answered), replies lost or contradicted, and the longest heartbeat silence
// each PC heard. Options: --minutes N, --out FILE (default
// bench-results/soak-page.json). Exit 1 on a false failover or a bad reply.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath, watchProblems } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { option } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const SAMPLE_MS = 15_000;

interface Sample {
  atS: number;
  checkpoint: number;
  answered: number;
  falseFailovers: number;
  dismissedSuspicions: number;
  badReplies: number;
  serving: string;
  protected: boolean;
  longestSilenceMs: number[];
}

async function sample(page: Page, startedAt: number): Promise<Sample> {
  const body = async (name: string) => (await page.getAttribute('body', `data-${name}`)) ?? '';
  const status = (await page.textContent('[data-status]')) ?? '';
  const counts = (await page.textContent('.counts')) ?? '';
  const detection = (await page.textContent('[data-metric="detection"]')) ?? '';
  const heard = /Longest silence heard: (.*?)\. Suspicions/.exec(detection)?.[1] ?? '';
  return {
    atS: Math.round((performance.now() - startedAt) / 1000),
    checkpoint: Number(/checkpoint #(\d+)/.exec(status)?.[1] ?? NaN),
    answered: Number(/(\d+) answered/.exec(counts)?.[1] ?? NaN),
    falseFailovers: Number(await body('false-failovers')),
    dismissedSuspicions: Number(await body('dismissed-suspicions')),
    badReplies: Number((await page.getAttribute('.consistency', 'data-consistency')) ?? NaN),
    serving: await body('serving'),
    protected: (await body('protected')) === 'true',
    longestSilenceMs: [...heard.matchAll(/(\d+) ms/g)].map((m) => Number(m[1])),
  };
}

async function main(): Promise<void> {
  const minutes = Number(option('--minutes') ?? 10);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'soak-page.json');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const site = await serveStatic(join(ROOT, 'dist'));
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const samples: Sample[] = [];
  let problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    problems = await watchProblems(page);
    await page.goto(site.url);
    await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    await page.selectOption('[data-control="period"]', '25');
    await page.waitForSelector('body[data-interactive-ms]', { timeout: 60_000 });
    await page.locator('.vm-panel[data-side="primary"] .xterm-helper-textarea').focus();
    await page.keyboard.type('(burn 4 &)\n');
    const startedAt = performance.now();
    while (performance.now() - startedAt < minutes * 60_000) {
      await page.waitForTimeout(SAMPLE_MS);
      samples.push(await sample(page, startedAt));
      console.log(JSON.stringify(samples.at(-1)));
    }
    await page.screenshot({ path: join(ROOT, 'test-results', 'soak-page.png'), fullPage: true });
  } finally {
    await browser.close();
    await site.close();
  }
  const last = samples.at(-1);
  const first = samples[0];
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, headless Chromium`,
    date: new Date().toISOString(),
    minutes,
    heartbeat: DEFAULT_REPLICATION.heartbeat,
    periodMs: 25,
    checkpoints: last?.checkpoint ?? 0,
    answered: last?.answered ?? 0,
    false_failovers: last?.falseFailovers ?? NaN,
    dismissed_suspicions: last?.dismissedSuspicions ?? NaN,
    bad_replies: last?.badReplies ?? NaN,
    still_protected_by_pc_b: last?.protected === true && last.serving === 'primary' && first?.serving === 'primary',
    longest_silence_ms: last?.longestSilenceMs ?? [],
    problems,
    samples,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  const docs = new BenchReport('soak-page', 'The built page left open', `npm run soak:page -- --minutes ${minutes}`);
  docs.line(JSON.stringify({ ...result, samples: undefined }, null, 2));
  docs.finish();
  process.exit(result.false_failovers === 0 && result.bad_replies === 0 ? 0 : 1);
}

await main();
