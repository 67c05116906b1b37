// `npm run bench:failover`: failover time, from killing the primary's worker to
// the first ledger reply released by the new primary, and the part of it that
// is detection (kill → takeover decision). Median of 10 in Node workers and
// 10 in Chromium workers, with the heartbeat settings of the tests.
// Options: --runs N, --out FILE (default bench-results/failover.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import { startBrowserRig } from '../test/browser/chromium.ts';
import { TEST_REPLICATION } from '../test/support/cluster.ts';
import { killPrimaryAt, type KillResult } from '../test/support/scenarios.ts';
import { formatSummary, summarize } from '../engine/shared/statistics.ts';

const ROOT = join(import.meta.dirname, '..');
const STAGE = 'between checkpoints';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

function check(result: KillResult): void {
  if (result.report.lost + result.report.contradicted > 0 || result.takeoverFrom !== result.expectedFrom) {
    throw new Error(`inconsistent failover: ${JSON.stringify(result)}`);
  }
}

async function main(): Promise<void> {
  const runs = Number(option('--runs') ?? 10);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'failover.json');
  const node: KillResult[] = [];
  for (let i = 0; i < runs; i++) {
    const result = await killPrimaryAt(spawnNodeVm, join(ROOT, 'wasm-assets'), STAGE);
    check(result);
    node.push(result);
    console.log(`node ${i + 1}/${runs}: failover ${result.failoverMs.toFixed(0)} ms, detection ${result.detectionMs.toFixed(0)} ms`);
  }
  const chromium: KillResult[] = [];
  const rig = await startBrowserRig();
  try {
    const page = await rig.browser.newPage();
    await page.goto(new URL('/test/browser/blank.html', rig.baseUrl).href);
    for (let i = 0; i < runs; i++) {
      const result = (await page.evaluate(`(async () => {
        const { killPrimaryAt } = await import('/test/support/scenarios.ts');
        const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
        return killPrimaryAt(spawnBrowserVm, new URL('/', location.href).href, ${JSON.stringify(STAGE)});
      })()`)) as KillResult;
      check(result);
      chromium.push(result);
      console.log(`chromium ${i + 1}/${runs}: failover ${result.failoverMs.toFixed(0)} ms, detection ${result.detectionMs.toFixed(0)} ms`);
    }
  } finally {
    await rig.close();
  }
  const figures = (results: KillResult[]) => ({
    failoverMs: summarize(results.map((r) => r.failoverMs)),
    detectionMs: summarize(results.map((r) => r.detectionMs)),
    takeoverMs: summarize(results.map((r) => r.failoverMs - r.detectionMs)),
  });
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    heartbeat: TEST_REPLICATION.heartbeat,
    periodMs: TEST_REPLICATION.periodMs,
    node: figures(node),
    chromium: figures(chromium),
  };
  console.log(`\n== failover (kill → first reply from the new primary), heartbeat ${TEST_REPLICATION.heartbeat.intervalMs} ms × ${TEST_REPLICATION.heartbeat.missLimit} ==`);
  for (const where of ['node', 'chromium'] as const) {
    console.log(`${where}: failover ${formatSummary(result[where].failoverMs, 'ms')}`);
    console.log(`${where}: detection ${formatSummary(result[where].detectionMs, 'ms')}`);
    console.log(`${where}: takeover after detection ${formatSummary(result[where].takeoverMs, 'ms')}`);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
