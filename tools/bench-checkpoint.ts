// `npm run bench`: the checkpoint benchmark, in headless Chromium with real
// workers and the real guest. For each mode (naive: v86's save_state whole;
// strict: delta checkpoints with changed RAM found by comparing all of it and
// from v86's write marks, side by side; speculative: write marks), workload (idle,
// memwrite at 1, 8, 32 MB/s) and period (10, 25, 100, 1000 ms) it measures
// the primary's pause, the RAM part of the capture, the checkpoint round trip,
// bytes per checkpoint, the secondary's apply time and guest throughput
// against the same guest in the same VM with checkpoints paused (windows
// interleaved; see checkpoint-bench-page.ts); then failover time. Every run has a deadline:
// one that misses it is reported with the last step it reached, and the rest
// go on. Prints a table and writes JSON.
// Options: --quick (idle and 8MBps at 10 and 100 ms, no RAM scan), --out FILE (default
// bench-results/checkpoint.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { median, percentile } from '../engine/shared/statistics.ts';
import type { CheckpointMode } from '../engine/replication/config.ts';
import { startBrowserRig, type BrowserRig } from '../test/browser/chromium.ts';
import type { KillResult } from '../test/support/scenarios.ts';
import type { RunRequest, RunSamples, Workload } from './checkpoint-bench-page.ts';
import { option, Stalled, withDeadline } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

interface RunResult {
  mode: CheckpointMode;
  /** How the changed RAM was found (naive: neither, v86 saves it all). */
  tracking: 'write' | 'scan' | 'none';
  workload: Workload;
  period_ms: number;
  checkpoints: number;
  pause_ms: Percentiles;
  roundtrip_ms: Percentiles;
  bytes_per_checkpoint: { p50: number; max: number };
  full_state_bytes: number;
  apply_ms: { p50: number };
  /** Delta modes: finding and packing the changed RAM pages. */
  ram_capture_ms?: { p50: number; p99: number };
  /**
   * p50 of each part of the pause before the state leaves: the VM's stop, then
   * (delta) the device state read and serialised, the RAM part, the device
   * block compared, the delta packed and checksummed; (naive) the checksum
   * over the whole state, in plain JS (the rest is v86's save_state).
   */
  capture_parts_ms: { stop: number; devices?: number; ram?: number; device_diff?: number; pack?: number; checksum?: number };
  /** Median of the units' ratios (replicated rate ÷ the paused rate of the same unit), with each unit's ratio. */
  throughput_ratio: number;
  throughput_samples: number[];
  /** This run's figure divided by the naive run's of the same workload and period (pause: naive ÷ this). */
  vs_naive?: { pause_p50_speedup: number; bytes_p50_fraction: number };
}

const percentiles = (values: readonly number[]): Percentiles => ({
  p50: percentile(values, 0.5),
  p95: percentile(values, 0.95),
  p99: percentile(values, 0.99),
});

/** `script`'s result in a fresh page, or Stalled after `deadlineMs`, naming the last step the page reported. */
async function inPage<T>(rig: BrowserRig, script: string, deadlineMs: number): Promise<T> {
  const { page, problems } = await rig.open('/test/browser/blank.html');
  let lastStep = 'none reported';
  page.on('console', (msg) => {
    if (msg.text().startsWith('bench: ')) lastStep = msg.text().slice('bench: '.length);
  });
  try {
    return (await withDeadline(page.evaluate(script), deadlineMs, 'the run', () => `its last step: ${lastStep}`)) as T;
  } finally {
    await closeQuietly(page);
    const serious = problems.filter((p) => !p.includes('404'));
    if (serious.length > 0) console.log(`  page problems: ${serious.join(' | ')}`);
  }
}

async function closeQuietly(page: Page): Promise<void> {
  await page.close().catch(() => {});
}

const pageModule = `await import('/tools/checkpoint-bench-page.ts')`;
const assetBase = `new URL('/', location.href).href`;

/** What a run may take besides its measuring: two PCs started, warm-ups, a whole state saved. */
const RUN_DEADLINE_MS = 90_000;

function measureMs(periodMs: number): number {
  return Math.min(15_000, Math.max(5_000, 50 * periodMs));
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const out = option('--out') ?? join(ROOT, 'bench-results', 'checkpoint.json');
  const workloads: Workload[] = quick ? ['idle', '8MBps'] : ['idle', '1MBps', '8MBps', '32MBps'];
  const periods = quick ? [10, 100] : [10, 25, 100, 1000];
  // Strict with the RAM scan and with write tracking, side by side; speculative with write tracking.
  // --quick leaves out the scan, which the page never runs (it is there to show what write tracking saves).
  const variants: { mode: CheckpointMode; tracking: 'write' | 'scan' }[] = [
    { mode: 'naive', tracking: 'scan' },
    ...(quick ? [] : [{ mode: 'strict' as const, tracking: 'scan' as const }]),
    { mode: 'strict', tracking: 'write' },
    { mode: 'speculative', tracking: 'write' },
  ];
  const throughputMs = quick ? 2000 : 3000;
  const kills = quick ? 3 : 10;
  const started = performance.now();
  const rig = await startBrowserRig();
  const runs: RunResult[] = [];
  let failover: KillResult[] = [];
  /** Runs that missed their deadline, and where they were. */
  const stalled: string[] = [];
  try {
    for (const workload of workloads) {
      for (const periodMs of periods) {
        for (const { mode, tracking } of variants) {
          const request: RunRequest = { mode, tracking, workload, periodMs, measureMs: measureMs(periodMs), throughputMs };
          const name = `${mode} ${tracking} ${workload} ${periodMs} ms`;
          let s: RunSamples;
          try {
            const script = `(async () => (${pageModule}).measureReplicated(${assetBase}, ${JSON.stringify(request)}))()`;
            s = await inPage<RunSamples>(rig, script, RUN_DEADLINE_MS + request.measureMs + 2 * request.throughputMs);
          } catch (err) {
            if (!(err instanceof Stalled)) throw err;
            stalled.push(`${name}: ${err.message}`);
            console.log(`STALLED ${stalled.at(-1)}`);
            continue;
          }
          const ratios = s.instructionsPerSecond.map((rate, i) => rate / (s.unreplicatedPerSecond[i] ?? NaN));
          const run: RunResult = {
            mode,
            tracking: mode === 'naive' ? 'none' : s.writeTracked === s.bytes.length && s.bytes.length > 0 ? 'write' : 'scan',
            workload,
            period_ms: periodMs,
            checkpoints: s.checkpoints,
            pause_ms: percentiles(s.pauseMs),
            roundtrip_ms: percentiles(s.roundtripMs),
            bytes_per_checkpoint: { p50: percentile(s.bytes, 0.5), max: Math.max(...s.bytes) },
            full_state_bytes: s.fullStateBytes,
            apply_ms: { p50: percentile(s.applyMs, 0.5) },
            ...(s.ramCaptureMs.length > 0 ? { ram_capture_ms: { p50: percentile(s.ramCaptureMs, 0.5), p99: percentile(s.ramCaptureMs, 0.99) } } : {}),
            throughput_ratio: median(ratios),
            throughput_samples: ratios,
            capture_parts_ms: {
              stop: percentile(s.stopMs, 0.5),
              ...(s.parts.devicesMs.length > 0
                ? {
                    devices: percentile(s.parts.devicesMs, 0.5),
                    ram: percentile(s.ramCaptureMs, 0.5),
                    device_diff: percentile(s.parts.deviceDiffMs, 0.5),
                    pack: percentile(s.parts.packMs, 0.5),
                  }
                : {}),
              ...(s.checksumMs.length > 0 ? { checksum: percentile(s.checksumMs, 0.5) } : {}),
            },
          };
          const naive = runs.find((r) => r.mode === 'naive' && r.workload === workload && r.period_ms === periodMs);
          if (naive && mode !== 'naive') {
            run.vs_naive = {
              pause_p50_speedup: naive.pause_ms.p50 / run.pause_ms.p50,
              bytes_p50_fraction: run.bytes_per_checkpoint.p50 / naive.bytes_per_checkpoint.p50,
            };
          }
          runs.push(run);
          console.log(row(run));
        }
      }
    }
    for (let i = 0; i < kills; i++) {
      const result = await inPage<KillResult>(
        rig,
        `(async () => {
          const { killPrimaryAt } = await import('/test/support/scenarios.ts');
          const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
          return killPrimaryAt(spawnBrowserVm, ${assetBase}, 'between checkpoints', undefined, undefined, 'none');
        })()`,
        RUN_DEADLINE_MS,
      );
      if (result.report.lost + result.report.contradicted > 0) throw new Error(`inconsistent failover: ${JSON.stringify(result.report)}`);
      failover.push(result);
      console.log(`failover ${i + 1}/${kills}: ${result.failoverMs.toFixed(0)} ms (detection ${result.detectionMs.toFixed(0)} ms)`);
    }
  } finally {
    await rig.close();
  }
  failover = failover.filter((r) => Number.isFinite(r.failoverMs));
  const report = {
    machine: `${cpus().length}× ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}, headless Debian Chromium`,
    date: new Date().toISOString(),
    quick,
    stalled,
    runs,
    failover_ms: {
      p50: percentile(
        failover.map((r) => r.failoverMs),
        0.5,
      ),
      detection_p50: percentile(
        failover.map((r) => r.detectionMs),
        0.5,
      ),
      n: failover.length,
    },
    duration_s: Math.round((performance.now() - started) / 1000),
  };
  const docs = new BenchReport('checkpoint', 'Checkpoints', `npm run bench${quick ? ' -- --quick' : ''}`);
  docs.line(
    "the primary's pause (p50/p95/p99 ms), against naive; round trip; bytes per checkpoint; apply; RAM capture; guest speed against checkpoints paused; n",
  );
  for (const run of stalled) docs.line(`STALLED: ${run}`);
  docs.line(table(runs));
  docs.line();
  docs.line(partsTable(runs));
  docs.line(
    `failover: p50 ${report.failover_ms.p50.toFixed(0)} ms, detection p50 ${report.failover_ms.detection_p50.toFixed(0)} ms (n=${failover.length}, strict mode)`,
  );
  docs.line(`total ${report.duration_s} s`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${out}`);
  if (stalled.length > 0) process.exitCode = 1;
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const kb = (v: number) => (v / 1024).toFixed(0);

function row(r: RunResult): string {
  const vs = r.vs_naive ? `${r.vs_naive.pause_p50_speedup.toFixed(1)}×` : '1×';
  const spread = r.throughput_samples.length > 0 ? `±${(50 * (Math.max(...r.throughput_samples) - Math.min(...r.throughput_samples))).toFixed(0)}` : '';
  return [
    r.mode.padEnd(11),
    r.tracking.padEnd(5),
    r.workload.padEnd(6),
    `${r.period_ms}`.padStart(5),
    `${f1(r.pause_ms.p50)}/${f1(r.pause_ms.p95)}/${f1(r.pause_ms.p99)}`.padStart(20),
    vs.padStart(7),
    `${f1(r.roundtrip_ms.p50)}/${f1(r.roundtrip_ms.p99)}`.padStart(14),
    `${kb(r.bytes_per_checkpoint.p50)}/${kb(r.bytes_per_checkpoint.max)}`.padStart(12),
    `${((100 * r.bytes_per_checkpoint.p50) / r.full_state_bytes).toFixed(2)}%`.padStart(8),
    f1(r.apply_ms.p50).padStart(7),
    (r.ram_capture_ms ? `${f2(r.ram_capture_ms.p50)}/${f2(r.ram_capture_ms.p99)}` : '–').padStart(12),
    `${(100 * r.throughput_ratio).toFixed(0)}%${spread}`.padStart(8),
    `${r.checkpoints}`.padStart(5),
  ].join(' ');
}

function table(runs: RunResult[]): string {
  const head = [
    'mode'.padEnd(11),
    'ram'.padEnd(5),
    'load'.padEnd(6),
    'ms'.padStart(5),
    'pause p50/p95/p99'.padStart(20),
    'vs nv'.padStart(7),
    'rtt p50/p99'.padStart(14),
    'KiB p50/max'.padStart(12),
    'of full'.padStart(8),
    'apply'.padStart(7),
    'ram p50/p99'.padStart(12),
    'thru'.padStart(8),
    'n'.padStart(5),
  ].join(' ');
  return [head, ...runs.map(row)].join('\n');
}

/** Where each run's capture went (p50 of each part, ms): the VM's stop, then the delta's parts or the naive checksum. */
function partsTable(runs: RunResult[]): string {
  const names = ['stop', 'devices', 'ram', 'device_diff', 'pack', 'checksum'] as const;
  const head = ['mode'.padEnd(11), 'ram'.padEnd(5), 'load'.padEnd(6), 'ms'.padStart(5), ...names.map((n) => n.padStart(11))].join(' ');
  const rows = runs.map((r) =>
    [
      r.mode.padEnd(11),
      r.tracking.padEnd(5),
      r.workload.padEnd(6),
      `${r.period_ms}`.padStart(5),
      ...names.map((n) => (r.capture_parts_ms[n] === undefined ? '–' : f1(r.capture_parts_ms[n])).padStart(11)),
    ].join(' '),
  );
  return ['capture parts, p50 ms', head, ...rows].join('\n');
}

await main();
