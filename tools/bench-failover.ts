// `npm run bench:failover`: failover time, from killing the primary's worker to
// the first ledger reply released by the new primary, and the part of it that
// is detection (kill → takeover decision). Median of 10 in Node workers and
// 10 in Chromium workers, with the page's heartbeat (DEFAULT_REPLICATION).
// Node tells the secondary at once that the dead worker's port closed;
// Chromium does not, so there the heartbeat detects. Each run has a deadline:
// one that misses it is reported by name and ends its series.
// Options: --runs N, --out FILE (default bench-results/failover.json), which
// gets { failover_ms, detection_ms, takeover_ms, false_failovers } for Chromium
// (quartiles), the same under "node", and the settings.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import { startBrowserRig } from '../test/browser/chromium.ts';
import { TEST_REPLICATION } from '../test/support/cluster.ts';
import { killPrimaryAt, type KillResult } from '../test/support/scenarios.ts';
import { formatSummary, quartiles, summarize } from '../engine/shared/statistics.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { option, Stalled, withDeadline } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const STAGE = 'between checkpoints';
const HEARTBEAT = DEFAULT_REPLICATION.heartbeat;

function check(result: KillResult): void {
  if (result.report.lost + result.report.contradicted > 0 || result.takeoverFrom !== result.expectedFrom) {
    throw new Error(`inconsistent failover: ${JSON.stringify(result)}`);
  }
}

/** Each run, a pair started, checkpointed, killed and answering again: one that takes longer than this has stalled. */
const RUN_DEADLINE_MS = 90_000;

/** `runs` results of `run`, each within its deadline; a run that stalls is reported and ends that series (its page or pair may be wedged). */
async function series(where: string, runs: number, run: () => Promise<KillResult>, stalled: string[]): Promise<KillResult[]> {
  const results: KillResult[] = [];
  for (let i = 0; i < runs; i++) {
    let result: KillResult;
    try {
      result = await withDeadline(run(), RUN_DEADLINE_MS, `${where} run ${i + 1}`);
    } catch (err) {
      if (!(err instanceof Stalled)) throw err;
      stalled.push(err.message);
      console.log(`STALLED ${err.message}`);
      break;
    }
    check(result);
    results.push(result);
    console.log(`${where} ${i + 1}/${runs}: failover ${result.failoverMs.toFixed(0)} ms, detection ${result.detectionMs.toFixed(0)} ms`);
  }
  return results;
}

async function main(): Promise<void> {
  const runs = Number(option('--runs') ?? 10);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'failover.json');
  const started = performance.now();
  const stalled: string[] = [];
  // The benches time the failover only: reading the new primary's disk back is the tests' (test/*/colo.test.ts).
  const node = await series(
    'node',
    runs,
    () => killPrimaryAt(spawnNodeVm, join(ROOT, 'wasm-assets'), STAGE, TEST_REPLICATION.mode, HEARTBEAT, 'none'),
    stalled,
  );
  let chromium: KillResult[];
  const rig = await startBrowserRig();
  try {
    const page = await rig.browser.newPage();
    await page.goto(new URL('/test/browser/blank.html', rig.baseUrl).href);
    const script = `(async () => {
        const { killPrimaryAt } = await import('/test/support/scenarios.ts');
        const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
        return killPrimaryAt(spawnBrowserVm, new URL('/', location.href).href, ${JSON.stringify(STAGE)}, ${JSON.stringify(TEST_REPLICATION.mode)}, ${JSON.stringify(HEARTBEAT)}, 'none');
      })()`;
    chromium = await series('chromium', runs, () => page.evaluate(script) as Promise<KillResult>, stalled);
  } finally {
    await rig.close();
  }
  const figures = (results: KillResult[]) => ({
    failover_ms: quartiles(results.map((r) => r.failoverMs)),
    detection_ms: quartiles(results.map((r) => r.detectionMs)),
    takeover_ms: quartiles(results.map((r) => r.failoverMs - r.detectionMs)),
    false_failovers: results.reduce((n, r) => n + r.falseFailovers, 0),
  });
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    heartbeat: HEARTBEAT,
    periodMs: TEST_REPLICATION.periodMs,
    ...figures(chromium),
    node: figures(node),
  };
  const docs = new BenchReport('failover', 'Failover', `npm run bench:failover -- --runs ${runs}`);
  docs.line(`kill → first reply from the new primary, heartbeat ${HEARTBEAT.intervalMs} ms × ${HEARTBEAT.missLimit}`);
  for (const [where, results] of [
    ['node', node],
    ['chromium', chromium],
  ] as const) {
    docs.line(`${where}: failover ${formatSummary(summarize(results.map((r) => r.failoverMs)), 'ms')}`);
    docs.line(`${where}: detection ${formatSummary(summarize(results.map((r) => r.detectionMs)), 'ms')}`);
    docs.line(`${where}: takeover after detection ${formatSummary(summarize(results.map((r) => r.failoverMs - r.detectionMs)), 'ms')}`);
    docs.line(`${where}: false failovers ${results.reduce((n, r) => n + r.falseFailovers, 0)}`);
  }
  for (const run of stalled) docs.line(`STALLED ${run}`);
  docs.line(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
// Done: the Node pairs' ended workers leave comlink's callback ports open, which would keep this process alive.
process.exit(0);
