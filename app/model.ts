// What the page's views read and do: a replicated pair as the views see it.
// In one tab the host itself (ColoCluster over VmHandles) is the model; with
// the host in a shared worker each tab holds a mirror of it (tabs/cluster-mirror.ts).
import type { Fate } from '../engine/host/host-core.ts';
import type { ClientAnswer, ClientOperation, ClientReport, ClientRequest } from '../engine/host/ledger-client.ts';
import type { SettingsChange } from '../engine/replication/commands.ts';
import type { ReplicationConfig } from '../engine/replication/config.ts';
import type { ReplicationStatus } from '../engine/replication/events.ts';
import type { MachineEvent, MemoryUse, SerialPort } from '../engine/vm/machine-api.ts';
import type { Side } from '../engine/protocol/messages.ts';
import type { TraceEvent } from '../engine/protocol/trace.ts';

/** One PC as a panel shows it: its console's output, keystrokes in, and a few readings. */
export interface PcModel {
  readonly alive: boolean;
  transcript(port: 0): string;
  transcriptEnd(port: 0): number;
  subscribe(listener: (events: MachineEvent[]) => void): () => void;
  waitForOutput(port: SerialPort, text: string, timeoutMs: number, from?: number): Promise<void>;
  readonly machine: {
    sendSerial(port: SerialPort, data: string): Promise<void>;
    instructionCount(): Promise<number>;
    textScreen(): Promise<string[]>;
    memoryUse(): Promise<MemoryUse>;
  };
}

/** The ledger's client, as the views read it. */
export interface ClientModel {
  readonly pending: ClientRequest | undefined;
  summary(): ClientReport;
  onAnswer(listener: (answer: ClientAnswer) => void): () => void;
}

/** Sends the demo's client requests, by itself or when asked. */
export interface TrafficModel {
  readonly isAuto: boolean;
  setAuto(on: boolean): void;
  /** Sends one request now unless one is outstanding. */
  send(operation: ClientOperation): void;
  /** Begins sending (when automatic): the page calls it once it shows the client. */
  start(): void;
  onSent(listener: (request: ClientRequest) => void): void;
}

export interface ClusterModel {
  readonly primary: PcModel | undefined;
  readonly secondary: PcModel | undefined;
  readonly client: ClientModel;
  readonly trace: TraceEvent[];
  readonly traceDropped: number;
  readonly status: Readonly<Partial<Record<Side, ReplicationStatus>>>;
  readonly serving: Side;
  readonly fate: Readonly<Record<Side, Fate>>;
  readonly names: Readonly<Record<Side, string>>;
  readonly config: Readonly<ReplicationConfig>;
  readonly protected: boolean;
  readonly canReprotect: boolean;
  readonly serviceLost: string | undefined;
  readonly falseFailovers: number;
  readonly dismissedSuspicions: number;
  readonly spare: { name: string; ready: boolean } | undefined;
  /** What the spare waits for before it can start, if anything (a tab to run in). */
  readonly spareWaitsFor?: string | undefined;
  heartbeatsSent(side: Side): readonly number[];
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  subscribe(listener: () => void): () => void;
  auditLedger(): Promise<string[]>;
  configure(change: SettingsChange, side?: Side): Promise<void>;
  /** From now on a reboot of the service's guest boots its kernel afresh, on every PC of the pair and every later one. */
  armReboot(): Promise<void>;
  setAutoReprotect(on: boolean): void;
  reprotect(): Promise<void>;
  checkpointNow(): void;
  step(): Promise<boolean>;
  failover(): void;
  killPrimary(): void;
  killSecondary(): void;
  freezePrimary(): void;
  cutLink(): void;
}
