// `npm run soak`: real VMs in Node workers, for a long time.
//   1. CHECKPOINTS checkpoints (default 2000) at a 25 ms period with client
//      traffic; the heap of each worker and of the host sampled as it goes.
//   2. CYCLES kill / re-protect cycles (default 50), alternating kill and freeze.
//   3. Dispose, then compare the host's live handles (workers, ports, timers)
//      with those before the first worker started.
// Fails (exit 1) on any lost or contradicted reply or any handle left behind.
// Options: --checkpoints N, --cycles N, --out FILE (default bench-results/soak.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { median } from '../engine/shared/statistics.ts';
import { ClientSession } from '../engine/host/client-session.ts';
import { ColoCluster } from '../engine/host/cluster.ts';
import { realClock } from '../engine/replication/ports.ts';
import { violationCount } from '../engine/host/history-checker.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import type { VmHandle } from '../engine/worker/vm-handle.ts';
import { numberOption } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');

function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;

async function main(): Promise<void> {
  const checkpoints = numberOption('--checkpoints', 2000);
  const cycles = numberOption('--cycles', 50);
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex === -1 ? join(ROOT, 'bench-results', 'soak.json') : (process.argv[outIndex + 1] ?? '');
  const before = handles();
  const cluster = new ColoCluster<VmHandle>({
    spawn: spawnNodeVm,
    assetBase: join(ROOT, 'wasm-assets'),
    replication: { ...DEFAULT_REPLICATION, periodMs: 25 },
  });
  const client = new ClientSession(cluster, realClock);
  await cluster.start();
  await cluster.waitFor(() => cluster.protected, 60_000, 'protected');
  // Replication that ended on its own (not by a kill or freeze of ours) is news: count it.
  const unplannedExits: string[] = [];
  cluster.subscribe(() => {
    const detail = cluster.status.primary?.exitReason === 'error' ? cluster.status.primary.exitDetail : '';
    if (detail && unplannedExits.at(-1) !== detail) unplannedExits.push(detail);
  });
  const next = () => {
    if (!client.ledger.pending) client.ledger.request({ op: 'add', amount: 1 });
  };
  client.ledger.onAnswer(() => setTimeout(next, 5));
  next();

  const samples: { checkpoint: number; hostHeapMB: number; primaryHeapMB: number; secondaryHeapMB: number; rssMB: number }[] = [];
  const sample = async (checkpoint: number) => {
    // Run with --expose-gc (npm run soak does) so the host's figure is live data, not garbage.
    (globalThis as { gc?: () => void }).gc?.();
    const [p, s] = await Promise.all([cluster.primary?.heapUsed() ?? NaN, cluster.secondary?.heapUsed() ?? NaN]);
    samples.push({
      checkpoint,
      hostHeapMB: mb(process.memoryUsage().heapUsed),
      primaryHeapMB: mb(p),
      secondaryHeapMB: mb(s),
      rssMB: mb(process.memoryUsage().rss),
    });
    console.log(`checkpoint ${checkpoint}: ${JSON.stringify(samples.at(-1))}`);
  };
  const step = Math.max(1, Math.floor(checkpoints / 8));
  for (let target = step; target <= checkpoints; target += step) {
    await cluster.waitFor(() => (cluster.status.primary?.committed ?? 0) >= target, 600_000, `checkpoint ${target}`);
    await sample(target);
  }
  const afterCheckpoints = client.ledger.summary();

  cluster.setSparePolicy({ autoReprotect: true });
  const cycleMs: number[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    await cluster.waitFor(() => cluster.protected, 120_000, `protected (cycle ${cycle})`);
    const name = cluster.names.primary;
    const t0 = performance.now();
    if (cycle % 2) cluster.kill('primary');
    else cluster.freezePrimary();
    await cluster.waitFor(() => cluster.names.primary !== name && cluster.protected, 120_000, `re-protected (cycle ${cycle})`);
    cycleMs.push(performance.now() - t0);
    if (cycle % 10 === 0) console.log(`cycle ${cycle}/${cycles}: ${client.ledger.summary().answered} answered, ${JSON.stringify(handles())}`);
  }
  await cluster.waitFor(() => client.ledger.pending === undefined, 60_000, 'last request answered');
  // The serving ledger, asked again for every reply the client saw, must hold all of them.
  const audit = await client.auditLedger(120_000);
  const report = client.ledger.summary();
  const liveWorkers = [cluster.primary, cluster.secondary].filter((vm) => vm?.alive).length;
  const falseFailovers = cluster.falseFailovers;
  const dismissedSuspicions = cluster.dismissedSuspicions;
  client.dispose();
  cluster.dispose();
  // Terminated workers release their handles asynchronously.
  for (let i = 0; i < 50 && JSON.stringify(handles()) !== JSON.stringify(before); i++) await new Promise((r) => setTimeout(r, 100));
  const after = handles();

  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    checkpoints: samples.at(-1)?.checkpoint ?? 0,
    samples,
    afterCheckpoints,
    cycles,
    cycleMs: { median: median(cycleMs) },
    client: { ...report, violations: report.violations.slice(0, 20) },
    audit: audit.length === 0 ? 'the serving ledger holds every reply the client saw' : audit,
    unplannedExits,
    falseFailovers,
    dismissedSuspicions,
    workersAliveBeforeDispose: liveWorkers,
    handlesBefore: before,
    handlesAfter: after,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  const docs = new BenchReport(
    'soak',
    'Soak: checkpoints and kill/re-protect cycles with real VMs',
    `npm run soak -- --checkpoints ${checkpoints} --cycles ${cycles}`,
  );
  docs.line(JSON.stringify({ ...result, samples: undefined, machine: undefined, date: undefined }, null, 2));
  docs.finish();
  const leaked = JSON.stringify(after) !== JSON.stringify(before);
  if (violationCount(report) > 0 || leaked) {
    console.error(leaked ? `handles left behind: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}` : 'consistency violated');
    process.exit(1);
  }
  process.exit(0);
}

await main();
