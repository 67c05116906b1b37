// The replication surface of one PC, defined once. The worker-side
// ReplicationRole implements `ReplicationCommands`; the host holds the same
// commands as calls answered later (`ReplicationControl`), derived here, over
// comlink to a worker or to a simulated PC. The commands about a pair
// (`PairCommands`) travel as data (`CommandCall`) naming the pair they are
// for, so that none reaches the role of another pair: the role queues one for
// a pair it has not started yet and refuses one for an older pair. Adding a
// command: add it to `PairCommands` (or, if it is about the worker and not a
// pair, to `ReplicationCommands`) and implement it in ReplicationRole; the
// worker exposes the role as it is, and every holder's type follows.
import type { ReplicationConfig } from './config.ts';
import type { ReplicationEvent, ReplicationListener, ReplicationStatus } from './events.ts';
import type { PeerPort } from './ports.ts';
import type { StartOptions } from '../vm/machine-api.ts';

/** What the operator may change while replicating; each side acts on what concerns it (the period, mode and output commit: the primary). */
export type SettingsChange = Partial<Pick<ReplicationConfig, 'periodMs' | 'mode' | 'outputCommit' | 'compare' | 'gate'>>;

/** The commands about one pair, each for the role a PC plays in it. */
export interface PairCommands {
  checkpointNow(): void;
  configure(change: SettingsChange): void;
  /** QEMU's x-colo-lost-heartbeat: the secondary takes over; the primary leaves COLO. */
  lostHeartbeat(): void;
  /** The host confirmed this side's suspicion (`peer-silent`): the peer failed, or the link did. As lostHeartbeat, with the reason. */
  peerLost(detail: string): void;
  /** The host fenced or retired the secondary: a primary out of COLO may release what it held. */
  confirmAlone(): void;
  /** Simulated partition: the pair's channel carries nothing more, both ways. */
  cutLink(): void;
}

export type PairCommandName = keyof PairCommands;

type CommandArgs = { [K in PairCommandName]: Parameters<PairCommands[K]> };

/** One pair command as data (the host core's effects name them so). */
export type CommandCall<K extends PairCommandName = PairCommandName> = {
  [P in K]: { command: P; args: CommandArgs[P] };
}[K];

/** Runs `call` on `target`: the one place a command given as data becomes a call. */
export function invoke<K extends PairCommandName>(target: PairCommands, call: CommandCall<K>): void {
  (target[call.command] as (...args: CommandArgs[K]) => void)(...call.args);
}

export interface ReplicationCommands {
  /** This worker's VM becomes the primary of pair `pair`, replicating over `port`. */
  startPrimary(pair: number, port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): Promise<void>;
  /** This worker's VM (started in standby) becomes the secondary of pair `pair` behind `port`. */
  startSecondary(pair: number, port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): void;
  /**
   * `call` for this worker's role in pair `pair`: carried out now, or once
   * that role has started here; refused (rejects, naming both pairs) when
   * this worker has started a newer pair since.
   */
  command(pair: number, call: CommandCall): Promise<void>;
  /** Releases one message held at the gate; false if none was held here. */
  step(): boolean;
  status(): ReplicationStatus | undefined;
  /** Simulated hang: the VM stops and this side neither sends nor reads; `ping` never answers. */
  freeze(): void;
  /** Answers at once unless the worker is frozen: how the host tells a hung side from a cut link. */
  ping(): Promise<true>;
}

/** Each method of T as a call whose answer comes later. */
export type Deferred<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** The commands as the host holds them once a PC has its role. */
export type ReplicationControl = Deferred<Omit<ReplicationCommands, 'startPrimary' | 'startSecondary'>>;

/** What the host needs from one PC of the pair. A VM worker (VmHandle) is one; the simulation has in-process ones. */
export interface ClusterNode {
  readonly alive: boolean;
  readonly replication: ReplicationControl;
  start(options: StartOptions): Promise<unknown>;
  startReplication(
    role: 'primary' | 'secondary',
    pair: number,
    port: MessagePort,
    config: ReplicationConfig,
    listener: (events: ReplicationEvent[]) => void,
  ): Promise<void>;
  /** Bytes for the guest's client port (ttyS1); `at`: their position in the primary's client stream (mirroring). */
  sendClient(data: string | Uint8Array, at?: number): Promise<void>;
  /** From now on a reboot of this PC's guest boots its kernel afresh (the kernel is fetched the first time). */
  armReboot(): Promise<void>;
  terminate(): void;
}
