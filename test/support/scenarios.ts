// Failover scenarios over a real replicated pair, written once and run both
// under Node and in Chromium (the browser test imports this module through
// Vite). They return what happened; the tests assert on it.
import type { ColoCluster } from '../../engine/host/cluster.ts';
import type { ClientReport } from '../../engine/host/ledger-client.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';
import type { VmHandle } from '../../engine/worker/vm-handle.ts';
import type { CheckpointMode } from '../../engine/replication/config.ts';
import type { HeartbeatConfig } from '../../engine/protocol/heartbeat.ts';
import { LEDGER_READY, REBOOT_GUEST, RESTART_LEDGER } from '../../engine/vm/guest-protocol.ts';
import { ask, heldSeen, messageSeen, startCluster, takeoverFrom, TEST_REPLICATION } from './cluster.ts';

export interface Stage {
  name: string;
  /** Sets breakpoints, waits for the stage, and returns the checkpoint the kill falls in. */
  reach(c: ColoCluster, after: number): Promise<number>;
  /** Checkpoint the secondary must take over from, given the one the kill fell in. */
  expectedFrom(k: number): number;
}

export const STAGES: Stage[] = [
  {
    name: 'between checkpoints',
    async reach(c, after) {
      await c.waitFor(() => c.status.primary?.phase === 'idle' && (c.status.primary?.committed ?? 0) > after, 30_000, 'idle after a checkpoint');
      return c.status.primary?.committed ?? -1;
    },
    expectedFrom: (k) => k,
  },
  {
    name: 'after checkpoint-reply',
    async reach(c) {
      await c.configure({ gate: { step: false, breakBefore: ['vmstate-send'] } }, 'primary');
      await c.waitFor(() => !!heldSeen(c, 'primary', 'vmstate-send'), 30_000, 'holding vmstate-send');
      return heldSeen(c, 'primary', 'vmstate-send')?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k - 1,
  },
  {
    name: 'in the middle of the state transfer',
    async reach(c) {
      await c.configure({ gate: { step: false, breakBefore: ['vmstate-size'] } }, 'primary');
      await c.waitFor(() => !!heldSeen(c, 'primary', 'vmstate-size') && c.status.secondary?.phase === 'await-size', 30_000, 'mid-transfer');
      return heldSeen(c, 'primary', 'vmstate-size')?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k - 1,
  },
  {
    name: 'after vmstate-received',
    async reach(c, after) {
      await c.configure({ gate: { step: false, breakBefore: ['vmstate-loaded'] } }, 'secondary');
      await c.waitFor(() => !!messageSeen(c, 'received', 'primary', 'vmstate-received', after + 1), 30_000, 'vmstate-received at the primary');
      return messageSeen(c, 'received', 'primary', 'vmstate-received', after + 1)?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k,
  },
  {
    name: 'after vmstate-loaded',
    async reach(c, after) {
      await c.waitFor(() => !!messageSeen(c, 'received', 'primary', 'vmstate-loaded', after + 1), 30_000, 'vmstate-loaded at the primary');
      return messageSeen(c, 'received', 'primary', 'vmstate-loaded', after + 1)?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k,
  },
];

export interface KillResult {
  stage: string;
  takeoverFrom: number | undefined;
  expectedFrom: number;
  finalReply: string;
  expectedFinalReply: string;
  report: ClientReport;
  secondary: ReplicationStatus | undefined;
  /** Kill → first reply released by the new primary, and kill → takeover decision. */
  failoverMs: number;
  detectionMs: number;
  /** Takeovers the host judged false alarms (the primary still answered): 0 where it was killed. */
  falseFailovers: number;
  /** The new primary's journal (its disk), each record's id, read after the run (unless asked not to read it back). */
  journalIds?: string[];
  /** The ids the client had sent by then (each answered once). */
  idsSent: string[];
  /** The total the new primary's ledger gives once it has read its journal back from the disk (unless asked not to read it back). */
  replyAfterReadBack?: string;
}

/**
 * How the new primary's disk is read back after a failover: a `reboot` of its
 * guest (BIOS, kernel, init: RAM afresh, half a minute in a page), a `restart`
 * of its ledger with the kernel's caches dropped first (so both reads reach the
 * disk v86 holds, as after a reboot: a second or two), or `none` (the benches,
 * which time only the failover).
 */
export type ReadBack = 'reboot' | 'restart' | 'none';

/**
 * Has the ledger of `vm` read its journal back from the disk (`reboot` or
 * `restart`, as ReadBack says) and waits until it serves again; returns the
 * ids the journal holds, in order, read from the disk too.
 */
export async function readJournalBack(vm: VmHandle, how: 'reboot' | 'restart'): Promise<string[]> {
  if (how === 'reboot') await vm.machine.armReboot();
  // Dropped, the page cache holds no block of the disk: every read below comes from v86's disk.
  else await vm.shell('echo 3 > /proc/sys/vm/drop_caches');
  const from = vm.transcriptEnd(1);
  await vm.machine.sendSerial(0, `${how === 'reboot' ? REBOOT_GUEST : RESTART_LEDGER}\n`);
  await vm.waitForOutput(1, LEDGER_READY, 180_000, from);
  const journal = await vm.shell("tr -d '\\000' < /dev/sda");
  return journal.split('\n').flatMap((record) => (record.trim() ? [record.trim().split(' ')[0] ?? ''] : []));
}

/**
 * Three acknowledged adds, a fourth in flight while the stage is reached, a
 * kill, then three more adds and a read on the new primary.
 */
export async function killPrimaryAt(
  spawn: () => VmHandle,
  assetBase: string,
  stageName: string,
  mode: CheckpointMode = TEST_REPLICATION.mode,
  heartbeat: HeartbeatConfig = TEST_REPLICATION.heartbeat,
  readBack: ReadBack = 'restart',
): Promise<KillResult> {
  const stage = STAGES.find((s) => s.name === stageName);
  if (!stage) throw new Error(`no stage ${stageName}`);
  const c = await startCluster({ spawn, assetBase, replication: { ...TEST_REPLICATION, mode, heartbeat } });
  try {
    for (let i = 1; i <= 3; i++) await ask(c, { op: 'add', amount: i });
    const committed = c.status.primary?.committed ?? 0;
    c.client.ledger.request({ op: 'add', amount: 1000 });
    const k = await stage.reach(c, committed);
    let firstReleaseAt = 0;
    // A reply, not any delivery: the host once delivered an empty batch at takeover, and that was timed as the first reply.
    const stop = c.onReleased((side, lines) => {
      if (side === 'secondary' && lines.length > 0 && firstReleaseAt === 0) firstReleaseAt = performance.timeOrigin + performance.now();
    });
    const killedAt = performance.timeOrigin + performance.now();
    c.kill('primary');
    await c.waitFor(() => c.serving === 'secondary', 30_000, 'failed over');
    await c.waitFor(() => c.client.ledger.pending === undefined, 30_000, 'in-flight request answered');
    const takeover = c.trace.find((e) => e.kind === 'takeover');
    for (let i = 0; i < 3; i++) await ask(c, { op: 'add', amount: 7 });
    const finalReply = await ask(c, { op: 'get' });
    const expectedFinalReply = `c${c.client.ledger.summary().sent} ok ${1 + 2 + 3 + 1000 + 21}`;
    stop();
    // The new primary's disk came with its checkpoint: read back, it holds every reply the new primary's ledger gave, and no other.
    const serving = c.secondary;
    if (!serving) throw new Error('no new primary');
    const idsSent = Array.from({ length: c.client.ledger.summary().sent }, (_, i) => `c${i + 1}`);
    const journalIds = readBack === 'none' ? undefined : await readJournalBack(serving, readBack);
    const replyAfterReadBack = readBack === 'none' ? undefined : await ask(c, { op: 'get' });
    await c.client.auditLedger(30_000);
    return {
      stage: stage.name,
      takeoverFrom: takeoverFrom(c),
      expectedFrom: stage.expectedFrom(k),
      finalReply,
      expectedFinalReply,
      report: c.client.ledger.summary(),
      secondary: c.status.secondary,
      failoverMs: firstReleaseAt - killedAt,
      detectionMs: (takeover?.time ?? NaN) - killedAt,
      falseFailovers: c.falseFailovers,
      journalIds,
      idsSent,
      replyAfterReadBack,
    };
  } finally {
    c.dispose();
  }
}
