// The host side of a replicated pair: two VM workers joined by a MessageChannel
// over which they run COLO themselves. The policy is HostCore's; this wires it
// to the workers, their ports, the clock and the client's bytes: its effects
// carried out, reports and commands handed to it, a timer for its deadline.
import { Listeners } from '../shared/listeners.ts';
import { ClusterReadings } from './cluster-readings.ts';
import { HOST_TIMING, HostCore, type HostEffect, type HostInput, type HostTiming } from './host-core.ts';
import type { ClientRoute } from './client-session.ts';
import { SpareSlot } from './spare.ts';
import { pairChannel, type WireTap } from './wiring.ts';
import type { ClusterNode, SettingsChange } from '../replication/commands.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationEvent } from '../replication/events.ts';
import { realClock, type Clock } from '../replication/ports.ts';
import type { Side } from '../protocol/messages.ts';

export interface ClusterOptions<N extends ClusterNode = ClusterNode> {
  /** A new PC's worker, for the PC of that name; it may take a while (another tab starts it). */
  spawn: (name: string) => N | Promise<N>;
  assetBase: string;
  replication: ReplicationConfig;
  /** For fault-injection tests; without it the workers talk over one MessageChannel. */
  wireTap?: WireTap;
  /** Defaults to the real clock; the simulation brings a virtual one. */
  clock?: Clock;
  /** Defaults to a MessageChannel. */
  channel?: () => [MessagePort, MessagePort];
  /** How long the host waits for what (HOST_TIMING where not given; a spare that waits for a tab a person opens needs longer). */
  timing?: Partial<HostTiming>;
  /** A spare waits in standby while the pair is protected (HostCoreOptions). */
  warmSpare?: boolean;
}

/** How long `reprotect()` waits, once the spare has started, for the new pair to replicate. */
const PAIR_START_MS = 120_000;

const ignore = () => {};
const NO_DEADLINE = { at: undefined, cancel: ignore };

export class ColoCluster<N extends ClusterNode = ClusterNode> extends ClusterReadings implements ClientRoute {
  primary: N | undefined;
  secondary: N | undefined;
  /** The PC being started in standby for a new pair. */
  private readonly spareSlot: SpareSlot<N>;
  /** The old secondary of a hand-over, holding its last checkpoint until the new one holds one (HostCore's former). */
  private formerNode: N | undefined;
  /** The last pair whose replication was started, and how that went. */
  private pairStarted: { pair: number; error?: unknown } = { pair: 0 };
  private readonly releasedListeners = new Listeners<[side: Side, lines: string[]]>();
  private readonly takeoverListeners = new Listeners();
  private relayPorts: MessagePort[] = [];
  /** Bytes sent to the serving primary's client port so far: positions in its client stream. */
  private clientBytes = 0;
  private deadline: { at: number | undefined; cancel: () => void } = NO_DEADLINE;

  constructor(private readonly options: ClusterOptions<N>) {
    super(new HostCore({ config: options.replication, ...HOST_TIMING, ...options.timing, warmSpare: options.warmSpare === true }), options.clock ?? realClock);
    this.spareSlot = new SpareSlot(options.spawn, options.assetBase, {
      wanted: (name) => this.spare?.name === name,
      ready: () => void this.input({ kind: 'standby-ready' }),
      failed: (error) => void this.input({ kind: 'standby-failed', error }),
    });
  }

  /** Starts the primary from the booted snapshot and a secondary in standby, then replication. */
  async start(): Promise<void> {
    const { spawn, assetBase } = this.options;
    this.input({ kind: 'start' });
    try {
      const nodes = [spawn(this.names.primary), spawn(this.names.secondary)] as const;
      // A PC spawned at once starts at once: the simulation's schedules depend on when, to the microtask.
      [this.primary, this.secondary] = nodes[0] instanceof Promise || nodes[1] instanceof Promise ? await Promise.all(nodes) : [nodes[0], nodes[1]];
      await Promise.all([this.primary.start({ mode: 'snapshot', assetBase }), this.secondary.start({ mode: 'standby', assetBase })]);
      await this.replicate(this.primary, this.secondary, this.pair);
    } catch (err) {
      const ended = (['primary', 'secondary'] as const).filter((side) => this[side]?.alive === false).map((side) => this.names[side]);
      this.dispose();
      // Before the pair replicates, no PC holds anything another could go on from: the start fails, and says why.
      if (ended.length > 0) throw new Error(`cluster: ${ended.join(' and ')} ended before the pair had started (${(err as Error).message})`);
      throw err;
    }
  }

  /** From now on the guests of the service can reboot (see v86-reboot.ts): both PCs of the pair, the spare, and every PC started after them. */
  async armReboot(): Promise<void> {
    await Promise.all([...[this.primary, this.secondary].map((pc) => (pc?.alive ? pc.armReboot() : undefined)), this.spareSlot.armReboot(!!this.spare?.ready)]);
  }

  /** Start a new secondary by itself whenever the pair ends up unprotected; keep a spare waiting while it is protected. */
  setSparePolicy({ autoReprotect, warmSpare }: { autoReprotect?: boolean; warmSpare?: boolean }): void {
    if (autoReprotect !== undefined) this.input({ kind: 'auto-reprotect', on: autoReprotect });
    if (warmSpare !== undefined) this.input({ kind: 'warm-spare', on: warmSpare });
  }

  /** A fresh secondary in standby receives the survivor's full state; resolves once the new pair replicates. */
  async reprotect(): Promise<void> {
    if (!this.canReprotect) throw new Error('cluster: nothing to re-protect (no survivor out of COLO)');
    const before = this.pair;
    this.input({ kind: 'reprotect' });
    const settled = () => this.pairStarted.pair > before || this.phase.kind === 'lost' || this.phase.kind === 'alone';
    await this.waitFor(settled, this.spareStartMs + PAIR_START_MS, 're-protected');
    const { pair, error } = this.pairStarted;
    if (pair <= before) throw new Error(`cluster: re-protection did not complete (${this.serviceLost ?? 'the new secondary did not start'})`);
    if (error !== undefined) throw error;
  }

  checkpointNow(): void {
    this.input({ kind: 'checkpoint-now' });
  }

  /** The operator's settings, now and for every later pair; a gate is one side's when `side` is given, else both sides'. Resolves once the PCs have them. */
  configure(change: SettingsChange, side?: Side): Promise<void> {
    return this.input({ kind: 'configure', change, ...(side ? { side } : {}) });
  }

  /** Releases one held protocol message, from whichever side holds one. */
  async step(): Promise<boolean> {
    for (const vm of [this.primary, this.secondary]) if (vm?.alive && (await vm.replication.step())) return true;
    return false;
  }

  /** QEMU's x-colo-lost-heartbeat on the secondary: take over now (the operator is the arbiter). */
  failover(): void {
    this.input({ kind: 'failover' });
  }

  /** The PC in `side`'s role is killed, as a crash would: its worker ends at once. */
  kill(side: Side): void {
    this.input({ kind: 'kill', side });
  }

  /** The spare, ready, becomes the secondary; the old one keeps its checkpoint until the new one holds one (see HostInput 'hand-over'). */
  handOver(): void {
    this.input({ kind: 'hand-over' });
  }

  /** The primary hangs but its worker lives: only the missing heartbeats give it away. */
  freezePrimary(): void {
    this.input({ kind: 'freeze-primary' });
  }

  /** Partition: both sides are alive and lose each other. */
  cutLink(): void {
    this.input({ kind: 'cut-link' });
  }

  /** `node`'s worker ended without the host ending it (the tab that ran it closed). The pair still finds out by itself. */
  workerEnded(node: N, detail: string): void {
    const side =
      node === this.primary
        ? 'primary'
        : node === this.secondary
          ? 'secondary'
          : node === this.spareSlot.node
            ? 'standby'
            : node === this.formerNode
              ? 'former'
              : undefined;
    if (side) this.input({ kind: 'worker-ended', side, detail });
  }

  dispose(): void {
    this.deadline.cancel();
    for (const vm of [this.primary, this.secondary, this.formerNode]) vm?.terminate();
    this.spareSlot.end();
    for (const port of this.relayPorts) port.close();
    this.forgetListeners();
    this.releasedListeners.clear();
    this.takeoverListeners.clear();
  }

  // --- the client's way through the pair (ClientRoute)
  // The serving PC gets every client byte; in compare mode the secondary gets
  // a copy, marked with where it sits in the primary's stream (see replayClientInput).
  sendClient(data: string | Uint8Array): void {
    const at = this.clientBytes;
    this.clientBytes += typeof data === 'string' ? new TextEncoder().encode(data).length : data.length;
    const { serve, mirror } = this.core.clientTargets();
    // A PC that ended meanwhile misses nothing: the client sends again to the next one.
    for (const side of [serve, mirror]) if (side) void this.node(side)?.sendClient(data, at).catch(ignore);
  }

  get servingName(): string {
    return this.names[this.serving];
  }

  onReleased(listener: (side: Side, lines: string[]) => void): () => void {
    return this.releasedListeners.add(listener);
  }

  onTakeover(listener: () => void): () => void {
    return this.takeoverListeners.add(listener);
  }

  // --- the core, carried out

  private node(side: Side | 'standby' | 'former'): N | undefined {
    return side === 'primary' ? this.primary : side === 'secondary' ? this.secondary : side === 'former' ? this.formerNode : this.spareSlot.node;
  }

  /** Hands `input` to the core and carries out its effects; resolves once the commands it sent are answered. */
  private input(input: HostInput): Promise<void> {
    const sent = this.apply(input);
    this.notify();
    return Promise.all(sent).then(() => {});
  }

  /** The core's effects of `input`, carried out, without telling the listeners yet; then one timer for its earliest deadline. */
  private apply(input: HostInput): Promise<unknown>[] {
    const done = this.core.handle(input, this.clock.now()).map((effect) => this.perform(effect));
    const at = this.core.nextDeadline;
    if (at === this.deadline.at) return done;
    this.deadline.cancel();
    const passed = () => {
      this.deadline = NO_DEADLINE;
      void this.input({ kind: 'tick' });
    };
    this.deadline = { at, cancel: at === undefined ? ignore : this.clock.after(at - this.clock.now(), passed) };
    return done;
  }

  private perform(effect: HostEffect): Promise<unknown> {
    switch (effect.kind) {
      case 'trace':
        this.record({ kind: 'trace', event: { kind: 'host', time: this.clock.now(), action: effect.action, detail: effect.detail } });
        return Promise.resolve();
      case 'terminate':
        if (effect.side === 'standby') this.spareSlot.end();
        else this.node(effect.side)?.terminate();
        if (effect.side === 'former') this.formerNode = undefined;
        return Promise.resolve();
      case 'send': {
        const { side, pair, call } = effect;
        const vm = this.node(side);
        if (!vm?.alive) return Promise.resolve();
        // A command the PC refused (it plays in a newer pair) is named in the trace; one a PC that ended never answers is moot.
        return vm.replication.command(pair, call).catch((err: unknown) => {
          if (vm.alive) this.input({ kind: 'command-refused', side, error: err instanceof Error ? err.message : String(err) });
        });
      }
      case 'freeze': {
        const vm = this.node(effect.side);
        return vm?.alive ? vm.replication.freeze() : Promise.resolve();
      }
      case 'ping': {
        const { ping } = effect;
        const vm = this.node(effect.side);
        // The core's deadline decides a ping that is never answered.
        const answered = (yes: boolean) => () => void this.input({ kind: 'ping-answered', ping, answered: yes });
        if (!vm?.alive) void Promise.resolve().then(answered(false));
        else void vm.replication.ping().then(answered(true), answered(false));
        return Promise.resolve();
      }
      case 'deliver':
        this.releasedListeners.emit(effect.side, effect.lines);
        return Promise.resolve();
      case 'retry-client':
        this.takeoverListeners.emit();
        return Promise.resolve();
      case 'start-standby':
        void this.spareSlot.start(effect.name);
        return Promise.resolve();
      case 'pair':
        if (effect.handOver) this.formerNode = this.secondary;
        void this.startPair(effect.survivor, effect.pair);
        return Promise.resolve();
      case 'fall-back':
        this.secondary = this.formerNode;
        this.formerNode = undefined;
        return Promise.resolve();
    }
  }

  private async startPair(survivor: Side, pair: number): Promise<void> {
    const primary = this.node(survivor);
    const secondary = this.spareSlot.take();
    if (!primary || !secondary) {
      // The core names a side it knows runs, and a pair only after a standby started: never here.
      this.pairStarted = { pair, error: new Error('cluster: no survivor or standby to pair') };
      return;
    }
    this.primary = primary;
    this.secondary = secondary;
    try {
      await this.replicate(primary, secondary, pair);
      this.pairStarted = { pair };
    } catch (err) {
      this.pairStarted = { pair, error: err };
    }
    this.notify();
  }

  private async replicate(primary: N, secondary: N, pair: number): Promise<void> {
    for (const port of this.relayPorts) port.close();
    const { primaryPort, secondaryPort, relayPorts } = pairChannel(this.options);
    this.relayPorts = relayPorts;
    // Events of an older pair are not heard as this pair's (but a former taken back plays in its own).
    const listen = (side: Side, node: N) => (events: ReplicationEvent[]) => {
      if (node === this.node(side) && pair === this.core.pairOf(side)) return this.onEvents(side, events);
      // The survivor's previous role may still release output while its new pair starts.
      if (node !== this.node(this.serving)) return;
      const lines = events.flatMap((event) => (event.type === 'released' ? event.lines : []));
      if (lines.length > 0) this.input({ kind: 'released-before', lines });
    };
    // The settings each side starts with are the host's at that moment; a change made while a side starts waits in its worker for the role.
    await primary.startReplication('primary', pair, primaryPort, this.configFor('primary'), listen('primary', primary));
    await secondary.startReplication('secondary', pair, secondaryPort, this.configFor('secondary'), listen('secondary', secondary));
  }

  private onEvents(side: Side, events: ReplicationEvent[]): void {
    if (!this.core.hears(side)) return;
    // One batch from a worker, one notice to the listeners.
    for (const event of events) {
      if (event.type === 'trace') this.record({ kind: 'trace', event: event.event });
      else if (event.type === 'status') this.apply({ kind: 'status', side, status: event.status });
      else if (event.type === 'peer-silent') this.apply({ kind: 'peer-silent', side, detail: event.detail, silentMs: event.silentMs });
      else if (event.type === 'heartbeats') this.record({ kind: 'heartbeats', side, sent: event.sent });
      else this.apply({ kind: 'released', side, lines: event.lines });
    }
    this.notify();
  }
}
