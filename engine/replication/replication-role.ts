// One VM's replication role inside its worker: which driver runs, and the
// commands the host may send it (engine/replication/commands.ts). Clock and VM
// are ports, so the same code runs in a real worker and in the seeded simulation.
import type { ReplicationCommands, SettingsChange } from './commands.ts';
import type { ReplicationConfig } from './config.ts';
import { EventBatcher } from '../shared/event-batcher.ts';
import type { ReplicationEvent, ReplicationListener, ReplicationStatus } from './events.ts';
import type { Clock, PeerPort, ReplicatedVm } from './ports.ts';
import { PrimaryDriver } from './primary-driver.ts';
import { SecondaryDriver } from './secondary-driver.ts';
import type { StatePaths } from './state-path.ts';

const REBUILD_DELAY_MS = 300;

export class ReplicationRole implements ReplicationCommands {
  private driver: PrimaryDriver | SecondaryDriver | undefined;
  private frozen = false;
  /** The state paths making their copy of the booted snapshot again, for the next pair this VM leads. */
  private baseRebuild: Promise<void> | undefined;
  private cancelRebuildTimer: (() => void) | undefined;

  constructor(
    private readonly vm: ReplicatedVm,
    private readonly clock: Clock,
    private readonly paths: StatePaths,
  ) {}

  async startPrimary(port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): Promise<void> {
    // Begun when this VM left COLO; awaited (or begun) here if re-protection came first.
    this.stopRebuildTimer();
    await (this.baseRebuild ??= this.paths.rebuildBase?.());
    this.baseRebuild = undefined;
    this.attach(listener, (emit, lineStart) => new PrimaryDriver(this.vm, this.paths.source(config.mode, config), port, this.clock, config, emit, lineStart));
  }

  startSecondary(port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): void {
    this.attach(listener, (emit, lineStart) => new SecondaryDriver(this.vm, this.paths.sink(config.verify), port, this.clock, config, emit, lineStart));
  }

  checkpointNow(): void {
    if (this.driver instanceof PrimaryDriver) this.driver.checkpointNow();
  }

  configure(change: SettingsChange): void {
    const driver = this.driver;
    if (!driver) return;
    if (change.gate) driver.setGate(change.gate);
    if (change.compare) driver.setCompare(change.compare);
    if (!(driver instanceof PrimaryDriver)) return;
    if (change.periodMs !== undefined) driver.setPeriod(change.periodMs);
    if (change.outputCommit) driver.setOutputCommit(change.outputCommit);
    const { mode } = change;
    if (mode) driver.setMode(mode, () => this.paths.source(mode, driver.captureOptions));
  }

  // Commands can reach a worker before its role does (the host names a fresh
  // secondary before it starts replicating): the role's configuration carries
  // the settings, so an early command has nothing to act on.
  lostHeartbeat(): void {
    this.driver?.lostHeartbeat();
  }

  peerLost(detail: string): void {
    this.driver?.peerLost(detail);
  }

  confirmAlone(): void {
    if (this.driver instanceof PrimaryDriver) this.driver.confirmAlone();
  }

  step(): boolean {
    return this.driver?.step() ?? false;
  }

  status(): ReplicationStatus | undefined {
    return this.driver?.status();
  }

  freeze(): void {
    this.frozen = true;
    this.driver?.freeze();
  }

  cutLink(): void {
    this.driver?.cutLink();
  }

  /** Answers at once, unless frozen: then never, as a hung worker would. */
  ping(): Promise<true> {
    return this.frozen ? new Promise<true>(() => {}) : Promise.resolve(true);
  }

  dispose(): void {
    this.stopRebuildTimer();
    this.driver?.dispose();
  }

  // A worker whose COLO has ended (a primary that left it, a secondary that
  // took over) may start again, as the primary of a new pair: re-protection.
  // The VM runs on through the change, so a line it has begun goes with it.
  private attach(
    listener: ReplicationListener,
    make: (emit: (event: ReplicationEvent) => void, lineStart: string) => PrimaryDriver | SecondaryDriver,
  ): void {
    let lineStart = '';
    if (this.driver) {
      const { phase } = this.driver.status();
      if (phase !== 'exited' && phase !== 'primary') throw new Error(`replication: this worker is still replicating (${phase})`);
      lineStart = this.driver.lineStart;
      this.driver.dispose();
      this.frozen = false;
    }
    const batcher = new EventBatcher<ReplicationEvent>((events) => listener(events));
    this.driver = make((event) => {
      if (event.type === 'status' && (event.status.phase === 'exited' || event.status.phase === 'primary')) this.prepareToLead();
      batcher.push(event);
    }, lineStart);
  }

  // This VM serves alone now (its secondary died, or it took over): the next
  // pair it leads wants the booted snapshot as the base of its checkpoint 1.
  // Made a moment later, not to slow the first replies after a takeover, and
  // long before re-protection can start (a new secondary takes ~1.5 s).
  private prepareToLead(): void {
    if (this.baseRebuild || this.cancelRebuildTimer || !this.paths.rebuildBase) return;
    this.cancelRebuildTimer = this.clock.after(REBUILD_DELAY_MS, () => {
      this.cancelRebuildTimer = undefined;
      this.baseRebuild ??= this.paths.rebuildBase?.();
    });
  }

  private stopRebuildTimer(): void {
    this.cancelRebuildTimer?.();
    this.cancelRebuildTimer = undefined;
  }
}
