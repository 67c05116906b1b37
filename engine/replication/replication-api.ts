// What a worker offers its host for replication, next to the VM itself.
import type { CheckpointMode, CompareConfig, ReplicationConfig } from './config.ts';
import type { ReplicationListener, ReplicationStatus } from './events.ts';
import type { GateConfig } from './link.ts';

export interface ReplicationApi {
  /** This worker's VM becomes the primary, replicating over `port`. */
  startPrimary(port: MessagePort, config: ReplicationConfig, listener: ReplicationListener): void;
  /** This worker's VM (started in standby) becomes the secondary behind `port`. */
  startSecondary(port: MessagePort, config: ReplicationConfig, listener: ReplicationListener): void;
  checkpointNow(): void;
  setPeriod(ms: number): void;
  /** QEMU's x-colo-lost-heartbeat: the secondary takes over; the primary leaves COLO. */
  lostHeartbeat(): void;
  /** The host fenced or retired the secondary: a primary out of COLO may release what it held. */
  confirmAlone(): void;
  setGate(gate: GateConfig): void;
  /** Releases one message held at the gate; false if none was held here. */
  step(): boolean;
  status(): ReplicationStatus | undefined;
  /** 'unsafe' releases the primary's output without waiting for a checkpoint (teaching only). */
  setOutputCommit(mode: 'hold' | 'unsafe'): void;
  /** The primary's checkpoint mode from its next checkpoint on (the secondary reads either format). */
  setMode(mode: CheckpointMode): void;
  /** Compare mode on or off, on either side (the secondary runs between checkpoints while it is on). */
  setCompare(compare: CompareConfig): void;
  /** Simulated hang: the VM stops and this side neither sends nor reads; `ping` never answers. */
  freeze(): void;
  /** Simulated partition: the channel carries nothing more, both ways. */
  cutLink(): void;
  /** Answers at once unless the worker is frozen: how the host tells a hung side from a cut link. */
  ping(): Promise<true>;
}
