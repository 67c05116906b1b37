// One simulated PC: a FakeVm with the real ReplicationHost (drivers, cores,
// link) running on virtual time. Terminating it silences it at once, as
// terminating a worker does.
import type { ClusterNode, ReplicationControl } from '../../engine/replication/cluster-node.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import type { ReplicationEvent } from '../../engine/replication/events.ts';
import type { PeerPort } from '../../engine/replication/ports.ts';
import { ReplicationHost } from '../../engine/replication/replication-host.ts';
import { fullStatePaths } from '../../engine/replication/state-path.ts';
import type { StartOptions } from '../../engine/vm/machine-api.ts';
import { FakeVm, SIM_MEMORY_BYTES, type StateRegistry } from './fake-vm.ts';
import type { SimScheduler } from './scheduler.ts';

const never = <T>() => new Promise<T>(() => {});

export class SimNode implements ClusterNode {
  alive = true;
  readonly vm: FakeVm;
  private readonly host: ReplicationHost;
  readonly replication: ReplicationControl;

  constructor(scheduler: SimScheduler, registry: StateRegistry, name: string) {
    this.vm = new FakeVm(scheduler, registry, name);
    this.host = new ReplicationHost(this.vm, scheduler, fullStatePaths(this.vm, SIM_MEMORY_BYTES));
    const call = <T>(fn: () => T): Promise<T> => (this.alive ? Promise.resolve().then(fn) : never<T>());
    this.replication = {
      checkpointNow: () => call(() => this.host.checkpointNow()),
      setPeriod: (ms) => call(() => this.host.setPeriod(ms)),
      lostHeartbeat: () => call(() => this.host.lostHeartbeat()),
      confirmAlone: () => call(() => this.host.confirmAlone()),
      setGate: (gate) => call(() => this.host.setGate(gate)),
      step: () => call(() => this.host.step()),
      setOutputCommit: (mode) => call(() => this.host.setOutputCommit(mode)),
      setMode: (mode) => call(() => this.host.setMode(mode)),
      setCompare: (compare) => call(() => this.host.setCompare(compare)),
      freeze: () => call(() => this.host.freeze()),
      cutLink: () => call(() => this.host.cutLink()),
      ping: () => (this.alive ? this.host.ping() : never<true>()),
    };
  }

  async start(options: StartOptions): Promise<void> {
    if (options.mode !== 'standby') await this.vm.run();
  }

  async startReplication(
    role: 'primary' | 'secondary',
    port: MessagePort,
    config: ReplicationConfig,
    listener: (events: ReplicationEvent[]) => void,
  ): Promise<void> {
    const guarded = (events: ReplicationEvent[]) => {
      if (this.alive) listener(events);
    };
    const peer = port as unknown as PeerPort;
    if (role === 'primary') this.host.startPrimary(peer, config, guarded);
    else this.host.startSecondary(peer, config, guarded);
  }

  async sendClient(line: string): Promise<void> {
    if (this.alive) this.vm.receive(line);
  }

  terminate(): void {
    if (!this.alive) return;
    this.alive = false;
    this.host.dispose();
    this.vm.kill();
  }
}
