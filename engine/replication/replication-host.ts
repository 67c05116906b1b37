// One VM's replication role inside its worker: which driver runs, and the
// commands the host may send it. Clock and VM are ports, so the same code runs
// in a real worker and in the seeded simulation.
import type { CheckpointMode, CompareConfig, ReplicationConfig } from './config.ts';
import { EventBatcher } from '../shared/event-batcher.ts';
import type { ReplicationEvent, ReplicationListener, ReplicationStatus } from './events.ts';
import type { GateConfig } from './link.ts';
import type { Clock, PeerPort, ReplicatedVm } from './ports.ts';
import { PrimaryDriver } from './primary-driver.ts';
import { SecondaryDriver } from './secondary-driver.ts';
import type { StatePaths } from './state-path.ts';

export class ReplicationHost {
  private driver: PrimaryDriver | SecondaryDriver | undefined;
  private frozen = false;

  constructor(
    private readonly vm: ReplicatedVm,
    private readonly clock: Clock,
    private readonly paths: StatePaths,
  ) {}

  startPrimary(port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): void {
    this.attach(listener, (emit) => new PrimaryDriver(this.vm, this.paths.source(config.mode), port, this.clock, config, emit));
  }

  startSecondary(port: PeerPort, config: ReplicationConfig, listener: ReplicationListener): void {
    this.attach(listener, (emit) => new SecondaryDriver(this.vm, this.paths.sink(), port, this.clock, config, emit));
  }

  checkpointNow(): void {
    if (this.driver instanceof PrimaryDriver) this.driver.checkpointNow();
  }

  setPeriod(ms: number): void {
    if (this.driver instanceof PrimaryDriver) this.driver.setPeriod(ms);
  }

  setOutputCommit(mode: 'hold' | 'unsafe'): void {
    if (this.driver instanceof PrimaryDriver) this.driver.setOutputCommit(mode);
  }

  setMode(mode: CheckpointMode): void {
    if (this.driver instanceof PrimaryDriver) this.driver.setMode(mode, () => this.paths.source(mode));
  }

  setCompare(compare: CompareConfig): void {
    this.driver?.setCompare(compare);
  }

  lostHeartbeat(): void {
    this.need().lostHeartbeat();
  }

  confirmAlone(): void {
    if (this.driver instanceof PrimaryDriver) this.driver.confirmAlone();
  }

  setGate(gate: GateConfig): void {
    this.need().setGate(gate);
  }

  step(): boolean {
    return this.need().step();
  }

  status(): ReplicationStatus | undefined {
    return this.driver?.status();
  }

  freeze(): void {
    this.frozen = true;
    this.need().freeze();
  }

  cutLink(): void {
    this.need().cutLink();
  }

  /** Answers at once, unless frozen: then never, as a hung worker would. */
  ping(): Promise<true> {
    return this.frozen ? new Promise<true>(() => {}) : Promise.resolve(true);
  }

  dispose(): void {
    this.driver?.dispose();
  }

  // A worker whose COLO has ended (a primary that left it, a secondary that
  // took over) may start again, as the primary of a new pair: re-protection.
  private attach(listener: ReplicationListener, make: (emit: (event: ReplicationEvent) => void) => PrimaryDriver | SecondaryDriver): void {
    if (this.driver) {
      const { phase } = this.driver.status();
      if (phase !== 'exited' && phase !== 'primary') throw new Error(`replication: this worker is still replicating (${phase})`);
      this.driver.dispose();
      this.frozen = false;
    }
    const batcher = new EventBatcher<ReplicationEvent>((events) => listener(events));
    this.driver = make((event) => batcher.push(event));
  }

  private need(): PrimaryDriver | SecondaryDriver {
    if (!this.driver) throw new Error('replication: not started');
    return this.driver;
  }
}
