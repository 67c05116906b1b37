// The in-page half of `npm run bench` (tools/bench-checkpoint.ts drives it in
// headless Chromium): one replicated pair of real v86 workers per run, a guest
// workload, and figures read from the protocol trace.
import { ColoCluster } from '../engine/host/cluster.ts';
import type { TraceEvent } from '../engine/protocol/trace.ts';
import { DEFAULT_REPLICATION, type CheckpointMode } from '../engine/replication/config.ts';
import { spawnBrowserVm } from '../engine/worker/spawn.browser.ts';
import type { VmHandle } from '../engine/worker/vm-handle.ts';

export const WORKLOADS = { idle: 0, '1MBps': 1, '8MBps': 8, '32MBps': 32 } as const;
export type Workload = keyof typeof WORKLOADS;

// Guest throughput is the instruction rate of the primary's guest while it
// burns CPU (next to its workload), replicated at the run's period, divided by
// the rate of the same guest, in the same VM, with checkpoints paused (the
// period set to a minute): windows in the order replicated, paused, paused,
// replicated, so a rate that drifts (v86 compiles hot code for tens of seconds,
// and the machine is shared) cancels out of each unit's ratio. A guest alone in
// another VM, measured before, was no baseline: its code was compiled less far,
// and the ratios read 36–720 %. Each step says so on the console, so that a run
// that stalls says where.

export interface RunRequest {
  mode: CheckpointMode;
  /** Delta modes: find changed RAM from v86's write marks, or by comparing all of it. */
  tracking: 'write' | 'scan';
  workload: Workload;
  periodMs: number;
  /** How long checkpoints are measured, then how long throughput is. */
  measureMs: number;
  throughputMs: number;
}

/** Raw samples of one run; the driver turns them into percentiles. */
export interface RunSamples {
  pauseMs: number[];
  roundtripMs: number[];
  bytes: number[];
  applyMs: number[];
  /** Delta captures: time to find and pack the changed RAM pages. */
  ramCaptureMs: number[];
  /** Delta captures in the window: how many used the write marks. */
  writeTracked: number;
  /** Every capture: the VM's stop, then (delta path) the capture's parts. */
  stopMs: number[];
  parts: { devicesMs: number[]; deviceDiffMs: number[]; packMs: number[] };
  /** Full-path captures: the checksum over the whole state (plain JS). */
  checksumMs: number[];
  /** Guest instructions per second while it burns CPU next to the workload, replicated, per unit of windows… */
  instructionsPerSecond: number[];
  /** …and the same guest in the same VM with checkpoints paused, in the same unit. */
  unreplicatedPerSecond: number[];
  /** v86's save_state of the primary right after the measured window, still replicated: what the naive path would move then. */
  fullStateBytes: number;
  checkpoints: number;
}

const WARMUP_MS = 1000;
const WARMUP_MIN_MS = 2500;
const WARMUP_STEP_MS = 500;
const WARMUP_STEPS = 10;
/** Throughput is measured as this many consecutive samples, for a spread. */
const RATE_SAMPLES = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the workload: memwrite at a rate (background), or nothing for idle. */
async function startWorkload(vm: VmHandle, workload: Workload): Promise<void> {
  const rate = WORKLOADS[workload];
  if (rate > 0) await vm.shell(`(memwrite ${rate} >/dev/null 2>&1 &)`);
}

/** A rate over less is mostly the jitter of reading the counter. */
const MIN_WINDOW_MS = 400;
/** A period no window lasts: checkpoints paused. */
const PAUSED_PERIOD_MS = 60_000;

/**
 * With `burn` keeping the guest CPU busy: RATE_SAMPLES units of four windows,
 * replicated, paused, paused, replicated; each unit's rates replicated and
 * paused (the mean of its two windows of each).
 */
async function interleavedRates(cluster: ColoCluster<VmHandle>, vm: VmHandle, request: RunRequest): Promise<{ replicated: number[]; paused: number[] }> {
  await vm.shell('(burn >/dev/null 2>&1 &)');
  await warmUp(vm);
  // A window holds several checkpoints; the first moments after a change of period are left out (one may be under way).
  const windowMs = Math.max(MIN_WINDOW_MS, request.throughputMs / (4 * RATE_SAMPLES), 3 * request.periodMs);
  const settleMs = request.periodMs + 200;
  const windowAt = async (periodMs: number) => {
    await cluster.configure({ periodMs });
    await sleep(settleMs);
    return rateOver(vm, windowMs);
  };
  const replicated: number[] = [];
  const paused: number[] = [];
  for (let unit = 0; unit < RATE_SAMPLES; unit++) {
    const r1 = await windowAt(request.periodMs);
    const p1 = await windowAt(PAUSED_PERIOD_MS);
    const p2 = await windowAt(PAUSED_PERIOD_MS);
    const r2 = await windowAt(request.periodMs);
    replicated.push((r1 + r2) / 2);
    paused.push((p1 + p2) / 2);
  }
  await cluster.configure({ periodMs: request.periodMs });
  return { replicated, paused };
}

// v86 compiles a hot loop after a while: the rate of a guest that just
// started burning climbs for seconds (8, 15, 43, 66, 84 M/s in successive
// seconds, seen here, then level), and two early rates can agree while still
// low. Rates are taken after WARMUP_MIN_MS, once two successive ones agree
// (what drifts after that cancels out of the interleaved windows).
async function warmUp(vm: VmHandle): Promise<void> {
  await sleep(WARMUP_MIN_MS);
  let last = 0;
  for (let i = 0; i < WARMUP_STEPS; i++) {
    const rate = await rateOver(vm, WARMUP_STEP_MS);
    if (last > 0 && Math.abs(rate - last) < 0.1 * last) return;
    last = rate;
  }
}

async function rateOver(vm: VmHandle, ms: number): Promise<number> {
  const i0 = await vm.machine.instructionCount();
  const t0 = performance.now();
  await sleep(ms);
  const i1 = await vm.machine.instructionCount();
  return ((i1 - i0) * 1000) / (performance.now() - t0);
}

const step = (what: string) => console.log(`bench: ${what}`);

export async function measureReplicated(assetBase: string, request: RunRequest): Promise<RunSamples> {
  const cluster = new ColoCluster<VmHandle>({
    spawn: spawnBrowserVm,
    assetBase,
    replication: { ...DEFAULT_REPLICATION, mode: request.mode, periodMs: request.periodMs, writeTracking: request.tracking === 'write' },
  });
  try {
    step('the pair: starting');
    await cluster.start();
    await cluster.waitFor(() => cluster.protected, 60_000, 'protected');
    const primary = cluster.primary as VmHandle;
    step('the pair: protected; the workload starts');
    await startWorkload(primary, request.workload);
    await sleep(WARMUP_MS);
    const windowStart = performance.timeOrigin + performance.now();
    await sleep(request.measureMs);
    const windowEnd = performance.timeOrigin + performance.now();
    const samples = fromTrace(cluster.trace.filter((e) => e.time >= windowStart && e.time <= windowEnd));
    step(`the pair: ${samples.checkpoints} checkpoints measured; saving the whole state`);
    const fullStateBytes = (await primary.saveState()).byteLength;
    step('the pair: burning');
    const { replicated, paused } = await interleavedRates(cluster, primary, request);
    if (cluster.status.primary?.phase === 'exited') throw new Error(`replication ended: ${cluster.status.primary.exitDetail}`);
    return { ...samples, instructionsPerSecond: replicated, unreplicatedPerSecond: paused, fullStateBytes };
  } finally {
    cluster.dispose();
  }
}

function fromTrace(trace: TraceEvent[]): Omit<RunSamples, 'instructionsPerSecond' | 'unreplicatedPerSecond' | 'fullStateBytes'> {
  const ramCaptureMs: number[] = [];
  let writeTracked = 0;
  const stopMs: number[] = [];
  const parts = { devicesMs: [] as number[], deviceDiffMs: [] as number[], packMs: [] as number[] };
  const checksumMs: number[] = [];
  const requested = new Map<number, number>();
  const roundtripMs: number[] = [];
  const pauseMs: number[] = [];
  const bytes: number[] = [];
  const applyMs: number[] = [];
  for (const e of trace) {
    if (e.kind === 'message' && e.type === 'checkpoint-request' && e.at === 'sent' && e.checkpoint !== undefined) requested.set(e.checkpoint, e.time);
    if (e.kind === 'message' && e.type === 'vmstate-loaded' && e.at === 'received' && e.checkpoint !== undefined) {
      const t0 = requested.get(e.checkpoint);
      if (t0 !== undefined) roundtripMs.push(e.time - t0);
    }
    if (e.kind === 'resume' && e.side === 'primary') pauseMs.push(e.pausedMs);
    if (e.kind === 'capture') {
      bytes.push(e.bytes);
      if (e.parts) ramCaptureMs.push(e.parts.ramMs);
      if (e.tracking === 'write') writeTracked++;
      stopMs.push(e.stopMs);
      if (e.checksumMs !== undefined) checksumMs.push(e.checksumMs);
      if (e.parts) {
        parts.devicesMs.push(e.parts.devicesMs);
        parts.deviceDiffMs.push(e.parts.deviceDiffMs);
        parts.packMs.push(e.parts.packMs);
      }
    }
    if (e.kind === 'load' && e.ok) applyMs.push(e.loadMs);
  }
  return { pauseMs, roundtripMs, bytes, applyMs, ramCaptureMs, writeTracked, stopMs, parts, checksumMs, checkpoints: roundtripMs.length };
}
