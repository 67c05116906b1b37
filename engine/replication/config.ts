// Replication settings shared by both sides and the host.
import type { HeartbeatConfig } from '../protocol/heartbeat.ts';
import { MAX_BUSY_MS, type ColoMessageType } from '../protocol/messages.ts';

/** Step mode, breakpoints and slow motion: what holds one side's protocol messages. */
export interface GateConfig {
  /** Hold every protocol message until `step()` releases it. */
  step: boolean;
  /** Hold only these message types (breakpoints). */
  breakBefore: ColoMessageType[];
  /** Slow the handshake down for teaching: each protocol message waits this long. */
  delayMs?: number;
}

export const OPEN_GATE: GateConfig = { step: false, breakBefore: [] };

/**
 * How a checkpoint moves state. 'naive': v86's whole save_state, the VM stopped
 * until vmstate-loaded. 'strict': only what changed (delta), VM stopped until
 * vmstate-loaded, as QEMU's COLO. 'speculative': delta, VM resumed right after
 * capture, as Remus; output is held until vmstate-received in every mode.
 */
export type CheckpointMode = 'naive' | 'strict' | 'speculative';

export const CHECKPOINT_MODES: readonly CheckpointMode[] = ['naive', 'strict', 'speculative'];

/**
 * COLO's compare mode: the secondary runs too, every client request goes to
 * both, and a reply leaves as soon as both VMs wrote the same one; a different
 * reply, or none within timeoutMs (QEMU's colo-compare default: 3000 ms),
 * makes a checkpoint at once. Periodic checkpoints go on as well.
 */
export interface CompareConfig {
  enabled: boolean;
  timeoutMs: number;
}

export interface ReplicationConfig {
  mode: CheckpointMode;
  compare: CompareConfig;
  /** Time between the end of one checkpoint and the start of the next (QEMU's x-checkpoint-delay). */
  periodMs: number;
  heartbeat: HeartbeatConfig;
  gate: GateConfig;
  /**
   * 'hold' is COLO's output commit. 'unsafe' releases the primary's output at
   * once, to show what goes wrong without it.
   */
  outputCommit: 'hold' | 'unsafe';
  /**
   * Delta captures also compare all of RAM (as without write tracking) and
   * fail, naming the page, when a changed page was not marked: for tests.
   */
  verify: boolean;
  /** Delta captures use the VM's write marks where it has them; false compares all of RAM each time (to compare the two). */
  writeTracking: boolean;
}

/**
 * How long a peer busy with its part of a checkpoint may stay silent on top of
 * the heartbeat's miss limit (`heartbeat.busyMs`): v86's whole save_state or
 * restore_state blocks a worker 120–360 ms (measured), a delta capture or load a few ms.
 */
export const PEER_BUSY_MS = 1000;

/**
 * The slowest a worker was seen to save, check or load a state, halved for
 * room: v86's whole state of this guest (32 MB) took 1.1 s to capture and
 * check on a quiet machine, 1.7 s on a loaded one (about 19 MB/s).
 */
const SLOWEST_STATE_BYTES_PER_MS = 8_000;
/** The busy time a side announces before it saves, checks or loads a state of `bytes`: `busyMs`, or longer for a big state, never more than a peer accepts. */
export function busyMsFor(bytes: number, busyMs: number): number {
  return Math.min(MAX_BUSY_MS, Math.max(busyMs, Math.ceil(bytes / SLOWEST_STATE_BYTES_PER_MS)));
}

export const DEFAULT_REPLICATION: ReplicationConfig = {
  mode: 'strict',
  compare: { enabled: false, timeoutMs: 3000 },
  periodMs: 1000,
  // A silence of 5 beats (~100 ms) only makes a side suspect its peer: the
  // host pings the suspect and dismisses the suspicion if it answers, so a
  // late heartbeat (Node workers fall 100–160 ms behind under load, several
  // pages on this 2-core machine more) costs a ping, not a failover.
  heartbeat: { intervalMs: 20, missLimit: 5, busyMs: PEER_BUSY_MS },
  gate: { step: false, breakBefore: [] },
  outputCommit: 'hold',
  verify: false,
  writeTracking: true,
};
