// The trace: every protocol message and state change as data, in the order it
// happened, for the UI and for tests. Times are milliseconds since the epoch
// (performance.timeOrigin + performance.now()), comparable across workers.
import type { ExitReason, FailoverStatus } from './failover.ts';
import type { ColoMessageType, Side } from './messages.ts';
import type { CompareVerdict } from './output-commit.ts';
import type { CheckpointCause, PrimaryPhase, ResumePolicy } from './primary.ts';
import type { SecondaryPhase } from './secondary.ts';

/** Where a side stands in COLO: its core's phase. */
export type ReplicationPhase = PrimaryPhase | SecondaryPhase;

export type TraceEvent =
  | {
      kind: 'message';
      time: number;
      from: Side;
      to: Side;
      /** 'sent' when it left, 'received' when the peer read it. */
      at: 'sent' | 'received';
      type: ColoMessageType | 'colo-exit';
      checkpoint?: number;
      bytes?: number;
    }
  /** A message stopped at the step gate or a breakpoint, waiting to be released. */
  | { kind: 'held'; time: number; side: Side; type: ColoMessageType; checkpoint?: number }
  | { kind: 'phase'; time: number; side: Side; phase: ReplicationPhase; checkpoint: number }
  | {
      kind: 'capture';
      time: number;
      checkpoint: number;
      cause: CheckpointCause;
      pauseStartedAt: number;
      bytes: number;
      captureMs: number;
      /** Of captureMs, the time the VM took to stop (it finishes its current time slice). */
      stopMs: number;
      /** 'full': v86's whole state; 'delta': the pages that changed. */
      path: 'full' | 'delta';
      /** When the VM runs again: after vmstate-loaded (naive, strict) or right after this capture (speculative). */
      resumes: ResumePolicy;
      /** `disk`: 4 KiB pages of the guest's disk in the delta's disk part: those written since the last checkpoint, or the whole disk's non-zero ones (`diskWhole`). */
      pages?: { ram: number; device: number; disk?: number; diskWhole?: boolean };
      /** Delta path: changed RAM found from the VM's write marks, or by comparing all of it. */
      tracking?: 'write' | 'scan';
      /** Delta path: the capture's time by part (device state read and serialised, RAM, device block compared, disk pages copied, packed). */
      parts?: { devicesMs: number; ramMs: number; deviceDiffMs: number; diskMs: number; packMs: number };
      /** Full path: the checksum over the whole state, in plain JS (the delta path's is a WebAssembly kernel, inside packMs). */
      checksumMs?: number;
    }
  | {
      kind: 'load';
      time: number;
      checkpoint: number;
      loadMs: number;
      ok: boolean;
      /** Compare mode: the pages the running secondary wrote, put back first; found from its write marks or by comparing all of RAM. */
      reverted?: { tracking: 'write' | 'scan'; pages: number; diskPages?: number };
    }
  /**
   * What checkpoint 1 of a new pair builds on: the booted snapshot both sides
   * hold (only what differs travels), or nothing (a full copy); `detail` says why.
   */
  | { kind: 'initial-sync'; time: number; method: 'shared-base' | 'full'; detail: string }
  | { kind: 'resume'; time: number; side: Side; checkpoint: number; pausedMs: number }
  | { kind: 'failover'; time: number; side: Side; status: FailoverStatus }
  /**
   * Compare mode: the primary's reply against the secondary's. A timeout names
   * the side whose counterpart never came: no secondary line, or no primary one.
   */
  | { kind: 'compare'; time: number; verdict: CompareVerdict; primary?: string; secondary?: string; checkpoint: number }
  | { kind: 'takeover'; time: number; from: number }
  | { kind: 'exit'; time: number; side: Side; reason: ExitReason; detail: string }
  | { kind: 'error'; time: number; side: Side; detail: string }
  | { kind: 'output'; time: number; side: Side; state: 'held' | 'released'; lines: string[]; checkpoint?: number }
  /** Something the host did to the pair: kill, fence, a new primary. */
  | { kind: 'host'; time: number; action: HostAction; detail: string };

export type HostAction =
  | 'start'
  | 'protected'
  | 'kill-primary'
  | 'kill-secondary'
  /** A move: the spare, ready, becomes the primary's secondary in a new pair, while the old secondary keeps its checkpoint. */
  | 'hand-over'
  /** The old secondary of a move retired: the new one holds a checkpoint (or the move was given up). */
  | 'retire-secondary'
  | 'freeze-primary'
  | 'cut-link'
  | 'fence'
  | 'primary-changed'
  | 'failover-command'
  | 'suspect'
  | 'dismiss'
  | 'confirm'
  | 'arbitrate'
  | 'false-failover'
  /** The host's timer came late for a ping's deadline (the host was starved): it waits a moment more for the answer. */
  | 'late-tick'
  | 'worker-ended'
  | 'spare'
  | 'reprotect'
  /** A PC refused a command that named an older pair than the one it runs. */
  | 'command-refused'
  /** No PC can serve the client any more. */
  | 'service-lost';
