// `npm run bench:tabs`: what a second tab costs and what closing one does.
// Each round opens the built site twice in one browser: a one-tab run, and a
// two-tab run whose secondary was moved to a tab of its own (click → protected
// by the new secondary, and of that how long nothing protected); both checkpoint
// every 100 ms for a while, and each saves its trace (the page's own "Save
// this run"), from which the primary's checkpoint pauses, the round trip of a
// checkpoint (checkpoint-request sent → vmstate-loaded read, on the primary's
// clock) and the transit of the state (vmstate-send sent → read) are read.
// Then the two-tab run's primary tab is closed: close → the first reply the
// new primary released, and close → takeover (and takeover after the host
// heard the tab go, the pair's own detection). Headless Chromium, plain static
// server. --rounds N (default 5), --out FILE (default bench-results/tabs.json).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import type { TraceEvent } from '../engine/protocol/trace.ts';
import { formatSummary, median, quartiles, summarize } from '../engine/shared/statistics.ts';
import { numberOption, option } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
/** How long each run checkpoints before its trace is read. */
const SAMPLE_MS = 12_000;

interface Checkpoints {
  pausesMs: number[];
  roundTripsMs: number[];
  transitMs: number[];
}

/** The page's trace, through its "Save this run" button. */
async function savedTrace(page: Page): Promise<TraceEvent[]> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action="save-run"]')]);
  const path = await download.path();
  return (JSON.parse(readFileSync(path, 'utf8')) as { trace: TraceEvent[] }).trace;
}

/** The current pair's checkpoints: those after the host last said protected, or retired the old secondary of a move. */
function checkpointsOf(trace: readonly TraceEvent[]): Checkpoints {
  const since = trace.findLast((e) => e.kind === 'host' && (e.action === 'protected' || e.action === 'retire-secondary'))?.time ?? 0;
  const recent = trace.filter((e) => e.time > since);
  const sent = (type: string, from: 'primary' | 'secondary') =>
    new Map(
      recent.flatMap((e) =>
        e.kind === 'message' && e.at === 'sent' && e.type === type && e.from === from && e.checkpoint !== undefined ? [[e.checkpoint, e.time] as const] : [],
      ),
    );
  const read = (type: string, to: 'primary' | 'secondary') =>
    new Map(
      recent.flatMap((e) =>
        e.kind === 'message' && e.at === 'received' && e.type === type && e.to === to && e.checkpoint !== undefined ? [[e.checkpoint, e.time] as const] : [],
      ),
    );
  const gap = (from: Map<number, number>, to: Map<number, number>) =>
    [...from].flatMap(([checkpoint, at]) => (to.has(checkpoint) ? [(to.get(checkpoint) ?? at) - at] : []));
  return {
    pausesMs: recent.flatMap((e) => (e.kind === 'resume' && e.side === 'primary' ? [e.pausedMs] : [])),
    roundTripsMs: gap(sent('checkpoint-request', 'primary'), read('vmstate-loaded', 'primary')),
    transitMs: gap(sent('vmstate-send', 'primary'), read('vmstate-send', 'secondary')),
  };
}

async function checkpointEvery100(page: Page): Promise<void> {
  await page.selectOption('[data-control="period"]', '100');
}

async function oneTabRun(browser: Browser, url: string): Promise<Checkpoints> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    await checkpointEvery100(page);
    // The fixed wait is the measurement's definition: checkpoints over this long.
    await page.waitForTimeout(SAMPLE_MS);
    return checkpointsOf(await savedTrace(page));
  } finally {
    await context.close();
  }
}

async function twoTabRun(
  browser: Browser,
  url: string,
): Promise<Checkpoints & { moveMs: number; moveUnprotectedMs: number; closeToReleaseMs: number; closeToTakeoverMs: number; goneToTakeoverMs: number }> {
  const context = await browser.newContext();
  try {
    const first = await context.newPage();
    await first.goto(new URL('?tabs', url).href);
    await first.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    const opened = context.waitForEvent('page');
    const [movedAt, movedAtEpoch] = await first.evaluate(() => [performance.now(), performance.timeOrigin + performance.now()]);
    await first.click('[data-action="move-secondary"]');
    const second = await opened;
    await second.waitForFunction(() => document.querySelector('[data-tab-runs]')?.getAttribute('data-tab-runs') === 'PC C', undefined, { timeout: 60_000 });
    await first.waitForFunction(
      () => document.body.dataset.protected === 'true' && document.querySelector('[data-tab-runs]')?.getAttribute('data-tab-runs') === 'PC A',
      undefined,
      { timeout: 60_000 },
    );
    // Make before break: the old secondary (in the first tab) protects until the new one holds checkpoint 1, then retires.
    const [protectedAt, unprotectedAt] = await first.evaluate(() => [Number(document.body.dataset.protectedAt), Number(document.body.dataset.unprotectedAt)]);
    const moveUnprotectedMs = unprotectedAt > movedAt ? protectedAt - unprotectedAt : 0;
    await checkpointEvery100(first);
    await first.waitForTimeout(SAMPLE_MS);
    const moveTrace = await savedTrace(first);
    const retired = moveTrace.find((e) => e.kind === 'host' && e.action === 'retire-secondary' && e.time > movedAtEpoch);
    if (!retired) throw new Error('bench:tabs: the move never retired the old secondary');
    const move = { moveMs: retired.time - movedAtEpoch, moveUnprotectedMs };
    const checkpoints = checkpointsOf(moveTrace);
    // Worker clocks are the epoch's: comparable with this process's, to a millisecond or so.
    const closedAt = Date.now();
    await first.close({ runBeforeUnload: false });
    await second.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    // The client's count of answers ("N sent, N answered, …"): the request list keeps only its last rows.
    const answered = () => second.evaluate(() => Number(/(\d+) answered/.exec(document.querySelector('.counts')?.textContent ?? '')?.[1]));
    const before = await answered();
    await second.waitForFunction((n) => Number(/(\d+) answered/.exec(document.querySelector('.counts')?.textContent ?? '')?.[1]) > n, before, {
      timeout: 30_000,
    });
    const trace = await savedTrace(second);
    // Released by the PC that took over (in the secondary's role); the closing primary may release a last reply as it goes.
    const firstRelease = trace.find((e) => e.kind === 'output' && e.state === 'released' && e.side === 'secondary' && e.time > closedAt)?.time ?? NaN;
    const takeover = trace.find((e) => e.kind === 'takeover' && e.time > closedAt)?.time ?? NaN;
    // When the host heard the tab go (its pagehide): what is left after it is the pair's own detection.
    const gone = trace.find((e) => e.kind === 'host' && e.action === 'worker-ended' && e.time > closedAt)?.time ?? NaN;
    return { ...checkpoints, ...move, closeToReleaseMs: firstRelease - closedAt, closeToTakeoverMs: takeover - closedAt, goneToTakeoverMs: takeover - gone };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const rounds = numberOption('--rounds', 5);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'tabs.json');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const site = await serveStatic(join(ROOT, 'dist'));
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  const one: Checkpoints = { pausesMs: [], roundTripsMs: [], transitMs: [] };
  const two: Checkpoints = { pausesMs: [], roundTripsMs: [], transitMs: [] };
  const closeToRelease: number[] = [];
  const closeToTakeover: number[] = [];
  const goneToTakeover: number[] = [];
  const moves: number[] = [];
  const moveUnprotected: number[] = [];
  const ratios: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const a = await oneTabRun(browser, site.url);
      const b = await twoTabRun(browser, site.url);
      for (const key of ['pausesMs', 'roundTripsMs', 'transitMs'] as const) {
        one[key].push(...a[key]);
        two[key].push(...b[key]);
      }
      closeToRelease.push(b.closeToReleaseMs);
      closeToTakeover.push(b.closeToTakeoverMs);
      goneToTakeover.push(b.goneToTakeoverMs);
      moves.push(b.moveMs);
      moveUnprotected.push(b.moveUnprotectedMs);
      ratios.push(median(b.roundTripsMs) / median(a.roundTripsMs));
      console.log(
        `round ${round + 1}/${rounds}: one tab: pause ${median(a.pausesMs).toFixed(1)} ms, round trip ${median(a.roundTripsMs).toFixed(1)} ms (${a.roundTripsMs.length} checkpoints); ` +
          `two tabs: pause ${median(b.pausesMs).toFixed(1)} ms, round trip ${median(b.roundTripsMs).toFixed(1)} ms (${b.roundTripsMs.length}); ` +
          `moving the secondary → the new one holds checkpoint 1 ${b.moveMs.toFixed(0)} ms, of it unprotected ${b.moveUnprotectedMs.toFixed(0)} ms; ` +
          `closing the primary's tab → takeover ${b.closeToTakeoverMs.toFixed(0)} ms (${b.goneToTakeoverMs.toFixed(0)} ms after the host heard the tab go), → first released reply ${b.closeToReleaseMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await browser.close();
    await site.close();
  }
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    one_tab: { pause_ms: quartiles(one.pausesMs), round_trip_ms: quartiles(one.roundTripsMs), state_transit_ms: quartiles(one.transitMs) },
    two_tabs: { pause_ms: quartiles(two.pausesMs), round_trip_ms: quartiles(two.roundTripsMs), state_transit_ms: quartiles(two.transitMs) },
    round_trip_ratio: quartiles(ratios),
    move_ms: quartiles(moves),
    move_unprotected_ms: quartiles(moveUnprotected),
    close_to_takeover_ms: quartiles(closeToTakeover),
    tab_gone_to_takeover_ms: quartiles(goneToTakeover),
    close_to_first_release_ms: quartiles(closeToRelease),
  };
  const docs = new BenchReport('tabs', 'One tab against two', 'npm run bench:tabs');
  for (const [name, set] of [
    ['one tab', one],
    ['two tabs', two],
  ] as const) {
    docs.line(`${name}: checkpoint pause ${formatSummary(summarize(set.pausesMs), 'ms', 1)}`);
    docs.line(`${name}: round trip (checkpoint-request → vmstate-loaded) ${formatSummary(summarize(set.roundTripsMs), 'ms', 1)}`);
    docs.line(`${name}: the state's transit (vmstate-send sent → read) ${formatSummary(summarize(set.transitMs), 'ms', 1)}`);
  }
  docs.line(`round trip, two tabs / one tab, per round: ${formatSummary(summarize(ratios), '×', 2)}`);
  docs.line(`"Move the secondary to a new tab" → the new secondary holds checkpoint 1 and the old one retires: ${formatSummary(summarize(moves), 'ms')}`);
  docs.line(`  of it unprotected (the old secondary protects until then): ${formatSummary(summarize(moveUnprotected), 'ms')}`);
  docs.line(`closing the primary's tab → takeover: ${formatSummary(summarize(closeToTakeover), 'ms')}`);
  docs.line(`the host heard the tab go → takeover: ${formatSummary(summarize(goneToTakeover), 'ms')}`);
  docs.line(`closing the primary's tab → first released reply: ${formatSummary(summarize(closeToRelease), 'ms')}`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

await main();
