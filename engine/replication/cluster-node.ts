// What the host needs from one PC of the pair. A VM worker (VmHandle) is one;
// the seeded simulation supplies in-process ones over fake VMs and channels.
import type { CheckpointMode, CompareConfig, ReplicationConfig } from './config.ts';
import type { ReplicationEvent } from './events.ts';
import type { GateConfig } from './link.ts';
import type { StartOptions } from '../vm/machine-api.ts';

export interface ReplicationControl {
  checkpointNow(): Promise<void>;
  setPeriod(ms: number): Promise<void>;
  lostHeartbeat(): Promise<void>;
  confirmAlone(): Promise<void>;
  setGate(gate: GateConfig): Promise<void>;
  step(): Promise<boolean>;
  setOutputCommit(mode: 'hold' | 'unsafe'): Promise<void>;
  setMode(mode: CheckpointMode): Promise<void>;
  setCompare(compare: CompareConfig): Promise<void>;
  freeze(): Promise<void>;
  cutLink(): Promise<void>;
  ping(): Promise<true>;
}

export interface ClusterNode {
  readonly alive: boolean;
  readonly replication: ReplicationControl;
  start(options: StartOptions): Promise<unknown>;
  startReplication(role: 'primary' | 'secondary', port: MessagePort, config: ReplicationConfig, listener: (events: ReplicationEvent[]) => void): Promise<void>;
  /** Bytes for the guest's client port (ttyS1); `at`: their position in the primary's client stream (mirroring). */
  sendClient(data: string | Uint8Array, at?: number): Promise<void>;
  terminate(): void;
}
