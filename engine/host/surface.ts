// The service's surface, declared once: everything a view may read of it
// (`ClusterState`, sent whole with every update, and the streams beside it in
// `ClusterUpdate`) and everything a view may ask of it (`ClusterCommands`).
// The host implements the commands (engine/host/service.ts); a page in the
// same tab calls it directly, a tab of a two-tab run through comlink, with
// the same interface. Adding a command: add its method here and implement it
// in ClusterService; nothing else compiles until that is done, and no other
// file declares it (test/unit/surface.test.ts holds that).
import type { Fate, PhaseKind } from './host-core.ts';
import type { ClientAnswer, ClientOperation, ClientReport, ClientRequest } from './ledger-client.ts';
import type { SettingsChange } from '../replication/commands.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationStatus } from '../replication/events.ts';
import type { MemoryUse } from '../vm/machine-api.ts';
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

/** One PC the service started, by the number it gave it. */
export interface PcInfo {
  pc: number;
  name: string;
  alive: boolean;
  /** The tab that runs its worker, in a two-tab run. */
  tab?: number;
}

/** "Reboot the guest", as far as it has gone. */
export type RebootState =
  | { kind: 'idle' }
  | { kind: 'arming'; name: string }
  | { kind: 'rebooting'; name: string; since: number }
  | { kind: 'done'; name: string; ms: number; line: string }
  | { kind: 'failed'; name: string; why: string };

/** A fault the host injects once, when the handshake first stops at the breakpoint. */
export type BreakFault = 'kill-primary' | 'freeze-primary' | 'cut-link' | 'kill-secondary';

export const BREAK_FAULTS: readonly BreakFault[] = ['kill-primary', 'freeze-primary', 'cut-link', 'kill-secondary'];

/** Everything a view may read of the service: small, plain data, sent whole with every update. */
export interface ClusterState {
  /** The pair has started (or `startError` says why it could not). */
  started: boolean;
  startError?: string;
  phase: PhaseKind;
  status: Partial<Record<Side, ReplicationStatus>>;
  serving: Side;
  fate: Record<Side, Fate>;
  names: Record<Side, string>;
  /** What the operator last chose (the gate: the primary's). */
  config: ReplicationConfig;
  protected: boolean;
  canReprotect: boolean;
  serviceLost: string | undefined;
  falseFailovers: number;
  dismissedSuspicions: number;
  spare: { name: string; ready: boolean } | undefined;
  /** A move under way: the old secondary, which keeps protecting until the new one holds a checkpoint, and the checkpoint it holds. */
  former: { name: string; checkpoint: number } | undefined;
  /** What the spare waits for before it can start, if anything (a tab to run in). */
  spareWaitsFor: string | undefined;
  /** The PC in each role, by number. */
  roles: Partial<Record<Side, number>>;
  pcs: PcInfo[];
  client: { summary: ClientReport; pending: ClientRequest | undefined; automatic: boolean };
  reboot: RebootState;
  breakFault: { fault: BreakFault; injectedAt?: number } | undefined;
}

/** What happened since a watcher's last update (everything kept, the first time). */
export interface ClusterUpdate {
  state: ClusterState;
  /** The first update to a watcher: what follows is everything kept so far, not an addition. */
  catchUp: boolean;
  trace: TraceEvent[];
  heartbeats: { side: Side; sent: number[] }[];
  /** What each PC printed on its console (ttyS0). */
  serial: { pc: number; text: string }[];
  sent: ClientRequest[];
  answers: ClientAnswer[];
}

/** A reading of one PC, for its panel. */
export type PcReading = 'instructionCount' | 'textScreen' | 'memoryUse';
export interface PcReadings {
  instructionCount: number;
  textScreen: string[];
  memoryUse: MemoryUse;
}

/** Everything a view may ask of the service. */
export interface ClusterCommands {
  /** The operator's settings, now and for every later pair; a gate is one side's when `side` is given. */
  configure(change: SettingsChange, side?: Side): Promise<void>;
  setAutoReprotect(on: boolean): Promise<void>;
  /** A new secondary for the survivor; resolves once the new pair replicates. */
  reprotect(): Promise<void>;
  /** A fresh secondary starts (in a tab that runs no PC, in a two-tab run) while the secondary protects; then it takes the old one’s place. */
  moveSecondary(): Promise<void>;
  checkpointNow(): Promise<void>;
  /** Releases one held protocol message; false if none was held. */
  step(): Promise<boolean>;
  /** QEMU's x-colo-lost-heartbeat on the secondary. */
  failover(): Promise<void>;
  kill(side: Side): Promise<void>;
  freezePrimary(): Promise<void>;
  cutLink(): Promise<void>;
  /** Injected once when the handshake next stops at the breakpoint (none: nothing). */
  setBreakFault(fault: BreakFault | undefined): Promise<void>;
  /** Asks the serving ledger again for everything the client saw; returns what is wrong. */
  auditLedger(): Promise<string[]>;
  /** The demo's client sends requests by itself, or only when asked. */
  setAutomaticRequests(on: boolean): Promise<void>;
  /** One request now, unless one is outstanding. */
  sendRequest(operation: ClientOperation): Promise<void>;
  /** Keystrokes for a PC's serial console (ttyS0). */
  typeOnConsole(pc: number, text: string): Promise<void>;
  read<R extends PcReading>(pc: number, what: R): Promise<PcReadings[R]>;
  /** The serving PC's guest reboots (BIOS, kernel, init), its disk kept; its progress is in the state. */
  rebootGuest(): Promise<void>;
}

/** A command as data: what a tab of a two-tab run sends its host. */
export type ClusterCommand = { [K in keyof ClusterCommands]: { kind: K; args: Parameters<ClusterCommands[K]> } }[keyof ClusterCommands];

/** Carries out `command` on `target`: the one place a command given as data becomes a call. */
export function perform(target: ClusterCommands, command: ClusterCommand): Promise<unknown> {
  const method = target[command.kind] as (...args: unknown[]) => Promise<unknown>;
  return method.apply(target, command.args);
}

/** The commands, each sent as data through `send` (to a host elsewhere): none is written out here. */
export function commandsVia(send: (command: ClusterCommand) => Promise<unknown>): ClusterCommands {
  return new Proxy({} as ClusterCommands, {
    get:
      (_, kind) =>
      (...args: unknown[]) =>
        send({ kind, args } as ClusterCommand),
  });
}
