// Replication settings shared by both sides and the host.
import type { HeartbeatConfig } from '../protocol/heartbeat.ts';
import type { GateConfig } from './link.ts';

export interface ReplicationConfig {
  /** Time between the end of one checkpoint and the start of the next (QEMU's x-checkpoint-delay). */
  periodMs: number;
  heartbeat: HeartbeatConfig;
  gate: GateConfig;
  /**
   * 'hold' is COLO's output commit. 'unsafe' releases the primary's output at
   * once, to show what goes wrong without it.
   */
  outputCommit: 'hold' | 'unsafe';
}

export const DEFAULT_REPLICATION: ReplicationConfig = {
  periodMs: 1000,
  heartbeat: { intervalMs: 50, missLimit: 8 },
  gate: { step: false, breakBefore: [] },
  outputCommit: 'hold',
};
