// What a replicating worker reports to its host: trace lines and status.
import type { ExitReason, FailoverStatus } from '../protocol/failover.ts';
import type { Side } from '../protocol/messages.ts';
import type { ReplicationPhase, TraceEvent } from '../protocol/trace.ts';
import type { ReplicationConfig } from './config.ts';

/** The settings a role runs with: those the operator may change (SettingsChange), as the role last applied them. */
export type RunningSettings = Pick<ReplicationConfig, 'periodMs' | 'mode' | 'outputCommit' | 'compare' | 'gate'>;

/** What a driver reports; its role adds which pair it plays in and the settings it runs. */
export type DriverStatus = Omit<ReplicationStatus, 'pair' | 'settings'>;

export interface ReplicationStatus {
  /** The pair this role plays in (engine/host/host-core.ts numbers them). */
  pair: number;
  /** The settings this side runs now: what it acknowledged, not what the host asked. */
  settings: RunningSettings;
  side: Side;
  /** 'primary' once a secondary took over, too. */
  role: 'primary' | 'secondary';
  phase: ReplicationPhase;
  /** Checkpoint under way (primary) or being received (secondary). */
  checkpoint: number;
  /** Last checkpoint the secondary holds whole (primary) / has loaded (secondary). */
  committed: number;
  failover: FailoverStatus;
  exitReason: ExitReason;
  exitDetail: string;
  heldOutputLines: number;
  /** The secondary runs between checkpoints (compare mode). */
  runsBetweenCheckpoints: boolean;
  /** Heartbeats as this side saw them: the longest silence of its peer, and the longest gap between its own beats (its timer late). */
  heartbeatGaps: HeartbeatGaps;
}

export interface HeartbeatGaps {
  peerSilenceMs: number;
  ownBeatGapMs: number;
}

export type ReplicationEvent =
  | { type: 'trace'; event: TraceEvent }
  | { type: 'status'; status: ReplicationStatus }
  /** The peer has been silent for `silentMs` (heartbeats missed, or its end of the channel closed): the host checks and decides. */
  | { type: 'peer-silent'; detail: string; silentMs: number }
  /** When this side sent its latest heartbeats (a report every few beats): for drawing them. */
  | { type: 'heartbeats'; sent: number[] }
  /** Client-visible output that may now leave the VM, in order. */
  | { type: 'released'; lines: string[] };

export type ReplicationListener = (events: ReplicationEvent[]) => void;

/** What a driver emits: its role completes each status (pair, settings) before it leaves the worker. */
export type DriverEvent = Exclude<ReplicationEvent, { type: 'status' }> | { type: 'status'; status: DriverStatus };
