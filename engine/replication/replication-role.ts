// One VM's replication role inside its worker: which driver runs, for which
// pair, and the commands the host may send it (engine/replication/commands.ts).
// A command names its pair: one for a pair whose role has not started here
// yet waits for it (the host names a new pair before its PCs have started it),
// one for an older pair is
// refused by name, so none is ever dropped or carried out by a driver that is
// gone. Clock and VM are ports, so the same code runs in a real worker and in
// the seeded simulation.
import { invoke, type CommandCall, type PairCommands, type ReplicationCommands, type SettingsChange } from './commands.ts';
import type { ReplicationConfig } from './config.ts';
import { EventBatcher } from '../shared/event-batcher.ts';
import type { DriverEvent, DriverStatus, ReplicationEvent, ReplicationListener, ReplicationStatus, RunningSettings } from './events.ts';
import type { Clock, PeerPort, ReplicatedVm } from './ports.ts';
import { PrimaryDriver } from './primary-driver.ts';
import { SecondaryDriver } from './secondary-driver.ts';
import type { StatePaths } from './state-path.ts';

/** Commands waiting for their pair's role: far more than a host sends while one starts. */
const MAX_WAITING = 256;

/** A command for a pair this worker has not started yet. */
interface Waiting {
  pair: number;
  call: CommandCall;
  done: () => void;
  refused: (err: Error) => void;
}

export class ReplicationRole implements ReplicationCommands {
  private driver: PrimaryDriver | SecondaryDriver | undefined;
  /** The pair the driver plays in (0: none yet). */
  private pair = 0;
  /** The settings the driver runs: those it started with, as changed since. */
  private settings: RunningSettings | undefined;
  private emit: (event: ReplicationEvent) => void = () => {};
  private waiting: Waiting[] = [];
  /** A frozen worker stays frozen, and a disposed one is gone: neither starts a role again. */
  private silenced: 'frozen' | 'disposed' | undefined;

  constructor(
    private readonly vm: ReplicatedVm,
    private readonly clock: Clock,
    private readonly paths: StatePaths,
  ) {}

  async startPrimary(pair: number, port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): Promise<void> {
    this.refuseOlder(pair, 'start as primary');
    // A primary that leads a new pair (a hand-over, or after going on alone) brings what it still holds.
    const carried = this.driver instanceof PrimaryDriver ? await this.driver.handOver() : [];
    this.attach(
      pair,
      config,
      listener,
      (emit, lineStart) => new PrimaryDriver(this.vm, this.paths.source(config.mode, config), port, this.clock, config, emit, lineStart, carried),
    );
  }

  startSecondary(pair: number, port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): void {
    this.refuseOlder(pair, 'start as secondary');
    this.attach(
      pair,
      config,
      listener,
      (emit, lineStart) => new SecondaryDriver(this.vm, this.paths.sink(config.verify), port, this.clock, config, emit, lineStart),
    );
  }

  command(pair: number, call: CommandCall): Promise<void> {
    if (pair < this.pair) return Promise.reject(this.refusal(pair, call.command));
    if (pair === this.pair && this.driver) {
      invoke(this.commands(), call);
      return Promise.resolve();
    }
    if (this.waiting.length >= MAX_WAITING)
      return Promise.reject(
        new Error(`replication: ${call.command} for pair ${pair} refused: ${MAX_WAITING} commands already wait for their pair to start here`),
      );
    return new Promise<void>((done, refused) => this.waiting.push({ pair, call, done, refused }));
  }

  step(): boolean {
    return this.driver?.step() ?? false;
  }

  status(): ReplicationStatus | undefined {
    return this.driver && this.complete(this.driver.status());
  }

  freeze(): void {
    this.silenced ??= 'frozen';
    this.driver?.freeze();
  }

  /** Answers at once, unless frozen: then never, as a hung worker would. */
  ping(): Promise<true> {
    return this.silenced === 'frozen' ? new Promise<true>(() => {}) : Promise.resolve(true);
  }

  dispose(): void {
    this.silenced = 'disposed';
    this.driver?.dispose();
    for (const w of this.waiting) w.refused(new Error(`replication: ${w.call.command} for pair ${w.pair} not carried out: this worker was ended`));
    this.waiting = [];
  }

  /** The pair commands, on the driver of this role's pair (the caller checked it is the one named). */
  private commands(): PairCommands {
    const driver = this.driver as PrimaryDriver | SecondaryDriver;
    const primary = driver instanceof PrimaryDriver ? driver : undefined;
    return {
      checkpointNow: () => primary?.checkpointNow(),
      configure: (change) => this.configure(driver, change),
      lostHeartbeat: () => driver.lostHeartbeat(),
      peerLost: (detail) => driver.peerLost(detail),
      confirmAlone: () => primary?.confirmAlone(),
      cutLink: () => driver.cutLink(),
    };
  }

  private configure(driver: PrimaryDriver | SecondaryDriver, change: SettingsChange): void {
    this.settings = { ...(this.settings as RunningSettings), ...change };
    if (change.gate) driver.setGate(change.gate);
    if (change.compare) driver.setCompare(change.compare);
    if (driver instanceof PrimaryDriver) {
      if (change.periodMs !== undefined) driver.setPeriod(change.periodMs);
      if (change.outputCommit) driver.setOutputCommit(change.outputCommit);
      const { mode } = change;
      if (mode) driver.setMode(mode, () => this.paths.source(mode, driver.captureOptions));
    }
    // The host learns what this side now runs.
    this.emit({ type: 'status', status: this.complete(driver.status()) });
  }

  private refuseOlder(pair: number, what: string): void {
    if (pair < this.pair) throw this.refusal(pair, what);
  }

  private refusal(pair: number, what: string): Error {
    return new Error(`replication: ${what} for pair ${pair} refused: this PC plays in pair ${this.pair} now`);
  }

  private complete(status: DriverStatus): ReplicationStatus {
    return { ...status, pair: this.pair, settings: this.settings as RunningSettings };
  }

  // A worker whose COLO has ended (a primary that left it, a secondary that
  // took over) may start again, as the primary of a new pair: re-protection.
  // The VM runs on through the change, so a line it has begun goes with it.
  // Then the commands that waited for this pair are carried out, in order,
  // before anything else can reach the new driver.
  private attach(
    pair: number,
    config: ReplicationConfig,
    listener: ReplicationListener,
    make: (emit: (event: DriverEvent) => void, lineStart: string) => PrimaryDriver | SecondaryDriver,
  ): void {
    // A hung worker starts nothing; an ended one neither (the simulation's PCs run on after their end).
    if (this.silenced) return;
    this.refuseOlder(pair, 'start');
    let lineStart = '';
    if (this.driver) {
      const { phase } = this.driver.status();
      const handedOver = this.driver instanceof PrimaryDriver && this.driver.handedOver;
      if (phase !== 'exited' && phase !== 'primary' && !handedOver) throw new Error(`replication: this worker is still replicating (${phase})`);
      lineStart = this.driver.lineStart;
      this.driver.dispose();
    }
    this.pair = pair;
    this.settings = { periodMs: config.periodMs, mode: config.mode, outputCommit: config.outputCommit, compare: config.compare, gate: config.gate };
    const batcher = new EventBatcher<ReplicationEvent>((events) => listener(events));
    this.emit = (event) => batcher.push(event);
    this.driver = make((event) => {
      if (event.type !== 'status') return batcher.push(event);
      batcher.push({ type: 'status', status: this.complete(event.status) });
    }, lineStart);
    const ready = this.waiting.filter((w) => w.pair <= pair);
    this.waiting = this.waiting.filter((w) => w.pair > pair);
    for (const w of ready) {
      if (w.pair < pair) {
        w.refused(this.refusal(w.pair, w.call.command));
        continue;
      }
      try {
        invoke(this.commands(), w.call);
        w.done();
      } catch (err) {
        w.refused(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}
