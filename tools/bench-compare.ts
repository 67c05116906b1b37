// `npm run bench:compare`: compare mode against periodic checkpoints, with
// real VMs in Node workers. For a deterministic workload (add, get) and a
// mixed one (one request in five asks for a random number, which the two
// PCs answer differently), each for --seconds (default 30): the reply latency
// (request → released to the client) and checkpoints per minute by cause.
// Options: --seconds N, --out FILE (default bench-results/compare.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { ClientSession } from '../engine/host/client-session.ts';
import { ColoCluster } from '../engine/host/cluster.ts';
import { realClock } from '../engine/replication/ports.ts';
import { violationCount } from '../engine/host/history-checker.ts';
import type { ClientOperation } from '../engine/host/ledger-client.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import type { VmHandle } from '../engine/worker/vm-handle.ts';
import { formatSummary, summarize, type Summary } from '../engine/shared/statistics.ts';
import { option } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const THINK_MS = 50;

interface Run {
  policy: 'periodic' | 'compare';
  workload: 'deterministic' | 'mixed';
  replies: number;
  latencyMs: Summary;
  checkpointsPerMinute: Record<string, number>;
}

async function run(policy: Run['policy'], workload: Run['workload'], seconds: number): Promise<Run> {
  const cluster = new ColoCluster<VmHandle>({
    spawn: spawnNodeVm,
    assetBase: join(ROOT, 'wasm-assets'),
    replication: { ...DEFAULT_REPLICATION, compare: { enabled: policy === 'compare', timeoutMs: 3000 } },
  });
  const client = new ClientSession(cluster, realClock);
  try {
    await cluster.start();
    await cluster.waitFor(() => cluster.protected, 60_000, 'protected');
    const latencies: number[] = [];
    let n = 0;
    const next = (): ClientOperation =>
      workload === 'mixed' && n % 5 === 4 ? { op: 'rand' } : n % 7 === 6 ? { op: 'get' } : { op: 'add', amount: 1 + (n % 9) };
    const start = performance.timeOrigin + performance.now();
    const end = start + seconds * 1000;
    while (performance.timeOrigin + performance.now() < end) {
      const request = client.ledger.request(next());
      n++;
      const answer = await new Promise<number>((resolve) => {
        const stop = client.ledger.onAnswer((a) => {
          if (a.id !== request.id) return;
          stop();
          resolve(a.answeredAt - a.sentAt);
        });
      });
      latencies.push(answer);
      await new Promise((resolve) => setTimeout(resolve, THINK_MS));
    }
    const minutes = (performance.timeOrigin + performance.now() - start) / 60_000;
    const causes: Record<string, number> = {};
    for (const e of cluster.trace) if (e.kind === 'capture' && e.time >= start && e.cause !== 'initial') causes[e.cause] = (causes[e.cause] ?? 0) + 1;
    const report = client.ledger.summary();
    if (violationCount(report) > 0) throw new Error(`inconsistent: ${report.violations.slice(0, 5).join('; ')}`);
    return {
      policy,
      workload,
      replies: latencies.length,
      latencyMs: summarize(latencies),
      checkpointsPerMinute: Object.fromEntries(Object.entries(causes).map(([cause, count]) => [cause, Math.round(count / minutes)])),
    };
  } finally {
    client.dispose();
    cluster.dispose();
  }
}

async function main(): Promise<void> {
  const seconds = Number(option('--seconds') ?? 30);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'compare.json');
  const runs: Run[] = [];
  const docs = new BenchReport('compare', 'Compare mode against periodic checkpoints', `npm run bench:compare -- --seconds ${seconds}`);
  for (const workload of ['deterministic', 'mixed'] as const) {
    for (const policy of ['periodic', 'compare'] as const) {
      const r = await run(policy, workload, seconds);
      runs.push(r);
      docs.line(
        `${workload.padEnd(13)} ${policy.padEnd(8)} ${r.replies} replies; latency ${formatSummary(r.latencyMs, 'ms')}; checkpoints/min ${JSON.stringify(r.checkpointsPerMinute)}`,
      );
    }
  }
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        machine: `${cpus().length}× ${cpus()[0]?.model}`,
        node: process.version,
        date: new Date().toISOString(),
        periodMs: DEFAULT_REPLICATION.periodMs,
        seconds,
        runs,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${out}`);
}

await main();
