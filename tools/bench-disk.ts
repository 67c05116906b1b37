// `npm run bench:disk`: block replication's figures, real guests under Node.
// Each round starts a strict pair (checkpoints every 100 ms) and measures:
//   - the primary's pause at checkpoints while the guest is idle, against
//     those carrying the ledger's journal pages (requests back to back): disk
//     pages and bytes per checkpoint, the disk part's copy time;
//   - in the same process, what the disk cost when it rode in the device
//     block (the way before it had a part of its own): copying it whole into
//     the block and comparing it with its shadow on the primary, copying it
//     whole again on the secondary's load (v86's SyncBuffer.set_state);
//   - the time a reboot takes until the ledger has read its journal back, and
//     a restart of the ledger alone.
// Options: --rounds N (default 3), --requests N per round (default 20),
// --out FILE (default bench-results/disk.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { bindKernels, PAGE_BYTES } from '../engine/checkpoint/kernels.ts';
import { WasmArena } from '../engine/checkpoint/wasm-arena.ts';
import type { TraceEvent } from '../engine/protocol/trace.ts';
import { formatSummary, median, summarize, type Summary } from '../engine/shared/statistics.ts';
import { GUEST_CONFIG } from '../engine/vm/guest-config.ts';
import { LEDGER_READY, REBOOT_GUEST, RESTART_LEDGER } from '../engine/vm/guest-protocol.ts';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import type { VmHandle } from '../engine/worker/vm-handle.ts';
import { ask, startCluster, TEST_REPLICATION } from '../test/support/cluster.ts';
import { numberOption, option } from './cli.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const ASSETS_DIR = join(ROOT, 'wasm-assets');
const PERIOD_MS = 100;
const IDLE_CHECKPOINTS = 30;

type Capture = TraceEvent & { kind: 'capture' };
type Resume = TraceEvent & { kind: 'resume' };

interface RoundFigures {
  idlePauseMs: number[];
  diskPauseMs: number[];
  diskPages: number[];
  diskCopyMs: number[];
  rebootMs: number;
  restartMs: number;
}

async function round(requests: number): Promise<RoundFigures> {
  const c = await startCluster<VmHandle>({
    spawn: spawnNodeVm,
    assetBase: ASSETS_DIR,
    replication: { ...TEST_REPLICATION, mode: 'strict', periodMs: PERIOD_MS },
  });
  try {
    const captures = () => c.trace.filter((e): e is Capture => e.kind === 'capture' && e.path === 'delta');
    const pauses = () => new Map(c.trace.filter((e): e is Resume => e.kind === 'resume' && e.side === 'primary').map((e) => [e.checkpoint, e.pausedMs]));
    // Idle: the guest writes nothing to its disk.
    const idleFrom = captures().length + 2;
    await c.waitFor(() => captures().length >= idleFrom + IDLE_CHECKPOINTS, 60_000, 'idle checkpoints');
    const busyFrom = captures().length;
    for (let i = 0; i < requests; i++) await ask(c, { op: 'add', amount: i + 1 });
    await c.waitFor(() => pauses().has(captures().at(-1)?.checkpoint ?? 0), 10_000, 'the last pause reported');
    const paused = pauses();
    const idle = captures()
      .slice(idleFrom, idleFrom + IDLE_CHECKPOINTS)
      .filter((e) => e.pages?.disk === 0);
    const withDisk = captures()
      .slice(busyFrom)
      .filter((e) => (e.pages?.disk ?? 0) > 0 && !e.pages?.diskWhole);
    const pauseOf = (events: Capture[]) => events.flatMap((e) => (paused.has(e.checkpoint) ? [paused.get(e.checkpoint) as number] : []));

    const primary = c.primary;
    if (!primary) throw new Error('no primary');
    const restartFrom = primary.transcriptEnd(1);
    const restartAt = performance.now();
    await primary.machine.sendSerial(0, `${RESTART_LEDGER}\n`);
    await primary.waitForOutput(1, LEDGER_READY, 30_000, restartFrom);
    const restartMs = performance.now() - restartAt;

    await primary.machine.armReboot();
    const rebootFrom = primary.transcriptEnd(1);
    const rebootAt = performance.now();
    await primary.machine.sendSerial(0, `${REBOOT_GUEST}\n`);
    await primary.waitForOutput(1, LEDGER_READY, 180_000, rebootFrom);
    const rebootMs = performance.now() - rebootAt;
    return {
      idlePauseMs: pauseOf(idle),
      diskPauseMs: pauseOf(withDisk),
      diskPages: withDisk.map((e) => e.pages?.disk ?? 0),
      diskCopyMs: withDisk.map((e) => e.parts?.diskMs ?? NaN),
      rebootMs,
      restartMs,
    };
  } finally {
    c.dispose();
  }
}

/**
 * The disk's cost per checkpoint when it rode in the device block: copied
 * into the block, compared with the block's shadow by the same kernel (both on
 * the primary, in its pause), and copied whole by v86 on the secondary's load.
 * A journal-like disk: its first pages written, one of them changed each time.
 */
function inDeviceBlock(repeats: number): { primaryMs: Summary; secondaryMs: Summary } {
  const bytes = GUEST_CONFIG.diskBytes;
  const pages = bytes / PAGE_BYTES;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const arena = new WasmArena(memory);
  const kernels = bindKernels(memory);
  const [current, shadow, list, out] = [arena.alloc(bytes), arena.alloc(bytes), arena.alloc(4 * pages), arena.alloc(bytes)];
  const disk = new Uint8Array(bytes);
  disk.fill(0x20, 0, 20 * PAGE_BYTES);
  const primary: number[] = [];
  const secondary: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    disk[(i % 20) * PAGE_BYTES + 1] = i & 0xff;
    const t0 = performance.now();
    arena.bytes().set(disk, current.offset);
    kernels.diffPages(current.offset, shadow.offset, pages, list.offset, out.offset);
    const t1 = performance.now();
    const copy = disk.slice();
    const t2 = performance.now();
    if (copy.byteLength !== bytes) throw new Error('copy');
    // The first round warms the kernel up.
    if (i > 0) {
      primary.push(t1 - t0);
      secondary.push(t2 - t1);
    }
  }
  return { primaryMs: summarize(primary), secondaryMs: summarize(secondary) };
}

async function main(): Promise<void> {
  const rounds = numberOption('--rounds', 3);
  const requests = numberOption('--requests', 20);
  const out = option('--out') ?? join(ROOT, 'bench-results', 'disk.json');
  console.log(
    `bench:disk — ${rounds} rounds, ${requests} ledger requests each, checkpoints every ${PERIOD_MS} ms, disk ${GUEST_CONFIG.diskBytes / 1024} KiB, ${cpus().length} cores`,
  );
  const results: RoundFigures[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await round(requests);
    results.push(r);
    console.log(
      `round ${i + 1}: pause idle ${median(r.idlePauseMs).toFixed(2)} ms (n=${r.idlePauseMs.length}), with disk pages ${median(r.diskPauseMs).toFixed(2)} ms (n=${r.diskPauseMs.length}); ` +
        `disk pages/checkpoint ${median(r.diskPages)}; reboot ${(r.rebootMs / 1000).toFixed(1)} s; ledger restart ${r.restartMs.toFixed(0)} ms`,
    );
  }
  const all = (pick: (r: RoundFigures) => number[]) => results.flatMap(pick);
  const figures = {
    idlePauseMs: summarize(all((r) => r.idlePauseMs)),
    diskPauseMs: summarize(all((r) => r.diskPauseMs)),
    pauseRatioPerRound: summarize(results.map((r) => median(r.diskPauseMs) / median(r.idlePauseMs))),
    diskPagesPerCheckpoint: summarize(all((r) => r.diskPages)),
    diskBytesPerCheckpoint: summarize(all((r) => r.diskPages.map((p) => p * PAGE_BYTES))),
    diskCopyMs: summarize(all((r) => r.diskCopyMs)),
    rebootMs: summarize(results.map((r) => r.rebootMs)),
    restartMs: summarize(results.map((r) => r.restartMs)),
    inDeviceBlock: inDeviceBlock(200),
  };
  const docs = new BenchReport('disk', 'Block replication', `npm run bench:disk -- --rounds ${rounds} --requests ${requests}`);
  docs.line(`primary's pause, idle:                          ${formatSummary(figures.idlePauseMs, 'ms', 2)}`);
  docs.line(`primary's pause, carrying journal pages:        ${formatSummary(figures.diskPauseMs, 'ms', 2)}`);
  docs.line(`  ratio journal/idle per round:                 ${formatSummary(figures.pauseRatioPerRound, '×', 2)}`);
  docs.line(`disk pages per checkpoint that carried some:    ${formatSummary(figures.diskPagesPerCheckpoint, 'pages')}`);
  docs.line(`disk bytes per such checkpoint:                 ${formatSummary(figures.diskBytesPerCheckpoint, 'B')}`);
  docs.line(`disk part: copying its pages (in the pause):    ${formatSummary(figures.diskCopyMs, 'ms', 3)}`);
  docs.line(
    `the disk in the device block instead, primary:  ${formatSummary(figures.inDeviceBlock.primaryMs, 'ms', 3)} (copy ${GUEST_CONFIG.diskBytes / 1024} KiB in, compare with shadow)`,
  );
  docs.line(`  and on the secondary's load:                  ${formatSummary(figures.inDeviceBlock.secondaryMs, 'ms', 3)} (v86 copies it whole)`);
  docs.line(`  ratio in-block/disk part (primary, medians):  ${(figures.inDeviceBlock.primaryMs.median / figures.diskCopyMs.median).toFixed(0)}×`);
  docs.line(`reboot → ledger read its journal back:          ${formatSummary(figures.rebootMs, 'ms')}`);
  docs.line(`ledger restart → read back:                     ${formatSummary(figures.restartMs, 'ms')}`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), cores: cpus().length, rounds, requests, periodMs: PERIOD_MS, diskBytes: GUEST_CONFIG.diskBytes, figures },
      null,
      2,
    ),
  );
  console.log(`\nwritten to ${out}`);
}

await main();
process.exit(0);
