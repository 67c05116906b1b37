// The host side of a replicated pair: two VM workers joined by a
// MessageChannel over which they run COLO themselves. The policy (who serves,
// who is fenced, when a new pair starts) is HostCore's; this file wires it to
// the workers, their ports, the clock and the client, and keeps the trace.
import type { ClientOperation } from './client-operation.ts';
import { HostCore, type Fate, type HostEffect, type HostInput, type Phase } from './host-core.ts';
import { LedgerClient } from './ledger-client.ts';
import { HeartbeatLog, TraceLog } from './trace-log.ts';
import { directChannel, tappedChannel, wiring, type WireTap } from './wiring.ts';
import type { ClusterNode, SettingsChange } from '../replication/commands.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationEvent, ReplicationStatus } from '../replication/events.ts';
import { realClock, type Clock } from '../replication/ports.ts';
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

export type { WireData, WireTap } from './wiring.ts';

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
  /** An unanswered request is sent again after this long (default CLIENT_RETRY_MS). */
  clientRetryMs?: number;
  /** How long the host waits for a suspect's answer before it counts as hung (default ARBITER_PING_MS). */
  arbiterPingMs?: number;
  /** A link silent this long while both PCs answer the host counts as failed (default LINK_FAILURE_MS). */
  linkFailureMs?: number;
  /** How long an ordered takeover may take before the host gives up on the secondary (default TAKEOVER_MS). */
  takeoverMs?: number;
  /** How long a primary told to leave COLO may take before the host asks whether it still answers (default LEAVE_MS). */
  leaveMs?: number;
  /** How long a spare may take to start before another replaces it (default SPARE_START_MS; a tab a person must open needs longer). */
  spareStartMs?: number;
}

type Listener = () => void;

/** What the cluster keeps of what happened: a trace event, or a batch of one side's heartbeat times. */
export type ClusterRecord = { kind: 'trace'; event: TraceEvent } | { kind: 'heartbeats'; side: Side; sent: number[] };

/** An unanswered request is sent again after this long (replies may wait for a checkpoint). */
const CLIENT_RETRY_MS = 5000;

/** How long the host waits for a suspected PC to answer before it counts as hung. */
const ARBITER_PING_MS = 500;

/**
 * A link that carried nothing this long while both PCs answer the host has
 * failed. Well above the longest silence measured between two live workers
 * (under 150 ms, outside a checkpoint's busy allowance), so late heartbeats
 * are dismissed and only a link that stays silent ends protection.
 */
const LINK_FAILURE_MS = 1000;

/**
 * An ordered takeover that has not happened in this long will not: the
 * secondary hangs. A takeover waits for a load under way (v86's whole
 * restore_state: 120–360 ms measured), so this is well above that.
 */
const TAKEOVER_MS = 5000;

/** A primary told to leave COLO leaves at once; one that has not in this long is asked whether it still answers. */
const LEAVE_MS = 2000;

/** A spare starts in about 2.5 s here (a worker, v86's WebAssembly, the booted snapshot); one not ready in this long is replaced. */
const SPARE_START_MS = 60_000;

/** How long `reprotect()` waits, once the spare has started, for the new pair to replicate. */
const PAIR_START_MS = 120_000;

export class ColoCluster<N extends ClusterNode = ClusterNode> {
  readonly client: LedgerClient;
  primary: N | undefined;
  secondary: N | undefined;
  private readonly beats = new HeartbeatLog();
  /** The PC being started in standby for a new pair. */
  private standby: N | undefined;
  private readonly core: HostCore;
  private readonly log = new TraceLog();
  /** The pair whose replication was started last: events of an older pair are not heard as that pair's. */
  private generation = 0;
  private readonly listeners = new Set<Listener>();
  private readonly releasedListeners = new Set<(side: Side, lines: string[]) => void>();
  private readonly recordListeners = new Set<(record: ClusterRecord) => void>();
  private relayPorts: MessagePort[] = [];
  private readonly clock: Clock;
  /** Bytes sent to the serving primary's client port so far: positions in its client stream. */
  private clientBytes = 0;
  private readonly stopRetries: () => void;

  constructor(private readonly options: ClusterOptions<N>) {
    this.clock = options.clock ?? realClock;
    this.core = new HostCore({
      config: options.replication,
      pingTimeoutMs: options.arbiterPingMs ?? ARBITER_PING_MS,
      linkFailureMs: options.linkFailureMs ?? LINK_FAILURE_MS,
      takeoverMs: options.takeoverMs ?? TAKEOVER_MS,
      leaveMs: options.leaveMs ?? LEAVE_MS,
      spareStartMs: options.spareStartMs ?? SPARE_START_MS,
    });
    this.client = new LedgerClient((line) => this.sendToServing(line), () => this.clock.now());
    // Like TCP retransmitting: a request unanswered for long is sent again, same id.
    const retryMs = options.clientRetryMs ?? CLIENT_RETRY_MS;
    this.stopRetries = this.clock.every(retryMs, () => {
      const pending = this.client.pending;
      if (pending && this.clock.now() - pending.lastSentAt >= retryMs) this.client.retry();
    });
  }

  /** Protocol events of both sides and the host, in time order: the most recent of them. */
  get trace(): TraceEvent[] {
    return this.log.events;
  }

  /** How many events were dropped from the front of `trace`, so readers can keep an absolute position. */
  get traceDropped(): number {
    return this.log.dropped;
  }

  /** Latest status reported by each side's worker. */
  get status(): Readonly<Partial<Record<Side, ReplicationStatus>>> {
    return this.core.status;
  }

  /** Which worker serves the client: the original primary, or the secondary after takeover. */
  get serving(): Side {
    return this.core.serving;
  }

  /** Host-side facts the workers cannot report: who was killed, frozen or fenced. */
  get fate(): Readonly<Record<Side, Fate>> {
    return this.core.fate;
  }

  /** The name of the PC in each role, for people: PC A, PC B, PC C… */
  get names(): Readonly<Record<Side, string>> {
    return this.core.names;
  }

  /** The configuration every new pair gets: what the operator last chose (the gate: the primary's). */
  get config(): Readonly<ReplicationConfig> {
    return this.core.configFor('primary');
  }

  /** What the operator last chose for `side`, with that side's gate. */
  configFor(side: Side): Readonly<ReplicationConfig> {
    return this.core.configFor(side);
  }

  /** The secondary holds a whole checkpoint: failover now loses nothing a client saw. */
  get protected(): boolean {
    return this.core.protected;
  }

  /** After a failover, or with the secondary gone: a fresh secondary starts from the survivor's full state. */
  get canReprotect(): boolean {
    return this.core.canReprotect;
  }

  /** Why no PC can serve the client any more, or undefined while one can (or may yet, by a failover). */
  get serviceLost(): string | undefined {
    return this.core.serviceLost;
  }

  /** The pair the PCs in their roles belong to (1 for the first; each re-protection starts the next). */
  get pair(): number {
    return this.core.pairNumber;
  }

  /** The pair's phase: what the host waits for, and until when. */
  get phase(): Phase {
    return this.core.phase;
  }

  /** The host is deciding between two sides that both claim to be primary. */
  get arbitrationPending(): boolean {
    return this.core.arbitrating;
  }

  /** Takeovers while the primary still answered and nobody cut the link: heartbeats too late. */
  get falseFailovers(): number {
    return this.core.falseFailovers;
  }

  /** When the PC in `side`'s role sent its heartbeats, over the last minute or so: for drawing them. */
  heartbeatsSent(side: Side): readonly number[] {
    return this.beats.sent(side);
  }

  /** Every trace event and heartbeat batch as it is kept: for a copy of the trace elsewhere (another tab). */
  onRecord(listener: (record: ClusterRecord) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  private record(record: ClusterRecord): void {
    if (record.kind === 'trace') this.log.record(record.event);
    else this.beats.record(record.side, record.sent);
    for (const listener of this.recordListeners) listener(record);
  }

  /** The PC started in standby while the pair is unprotected, ready to become the next secondary. */
  get spare(): { name: string; ready: boolean } | undefined {
    return this.core.spare;
  }

  /** Suspicions the host dismissed because the suspect answered it (late heartbeats that cost nothing). */
  get dismissedSuspicions(): number {
    return this.core.dismissedSuspicions;
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
      await this.replicate(this.primary, this.secondary, this.core.pairNumber);
    } catch (err) {
      const ended = (['primary', 'secondary'] as const).filter((side) => this[side]?.alive === false).map((side) => this.names[side]);
      this.dispose();
      // Before the pair replicates, no PC holds anything another could go on from: the start fails, and says why.
      if (ended.length > 0) throw new Error(`cluster: ${ended.join(' and ')} ended before the pair had started (${(err as Error).message})`);
      throw err;
    }
  }

  /**
   * From now on the guests of the service can reboot (see v86-reboot.ts):
   * both PCs of the pair, the spare, and every PC started after them. A spare must be
   * armed before it joins: v86's BIOS reads the option ROM from the PC
   * itself (fw_cfg), so a spare that took over in the middle of a reboot
   * would find none and not boot.
   */
  async armReboot(): Promise<void> {
    this.rebootArmed = true;
    // A spare still starting is armed once it has started (startStandby).
    const spare = this.core.spare?.ready ? this.standby : undefined;
    await Promise.all([this.primary, this.secondary, spare].map((pc) => (pc?.alive ? pc.armReboot() : undefined)));
  }

  private rebootArmed = false;

  /** Start a new secondary by itself whenever the pair ends up unprotected. */
  setAutoReprotect(on: boolean): void {
    this.input({ kind: 'auto-reprotect', on });
  }

  /** A fresh secondary in standby receives the survivor's full state; resolves once the new pair replicates. */
  async reprotect(): Promise<void> {
    if (!this.core.canReprotect) throw new Error('cluster: nothing to re-protect (no survivor out of COLO)');
    const before = this.core.pairNumber;
    this.input({ kind: 'reprotect' });
    const settled = () => this.pairStarted.pair > before || this.core.phase.kind === 'lost' || this.core.phase.kind === 'alone';
    await this.waitFor(settled, (this.options.spareStartMs ?? SPARE_START_MS) + PAIR_START_MS, 're-protected');
    const { pair, error } = this.pairStarted;
    if (pair <= before) throw new Error(`cluster: re-protection did not complete (${this.core.serviceLost ?? 'the new secondary did not start'})`);
    if (error !== undefined) throw error;
  }

  /**
   * A two-tab run's "Move the secondary to a new tab": the secondary retires
   * and a fresh one (in a tab that runs no PC) receives the primary's state.
   */
  async moveSecondary(): Promise<void> {
    if (!this.protected || this.serving !== 'primary') throw new Error('cluster: the pair is not protected: nothing to move');
    this.killSecondary();
    // With automatic re-protection on, the host starts the next pair by itself.
    await this.waitFor(() => this.canReprotect || this.protected, 10_000, 'ready to re-protect');
    if (this.canReprotect) await this.reprotect();
  }

  /** The last pair whose replication was started, and how that went. */
  private pairStarted: { pair: number; error?: unknown } = { pair: 0 };

  /** What a timeout reports: the last events, and where each side last was and what it last said. */
  private describeForTimeout(): string {
    const sides = (['primary', 'secondary'] as const).map((side) => {
      const status = this.core.status[side];
      const last = this.trace.findLast((e) => 'side' in e && e.side === side);
      const where = status ? `${status.role} ${status.phase}, checkpoint ${status.checkpoint}${status.exitDetail ? `, exited: ${status.exitDetail}` : ''}` : 'no status';
      return `${side}: ${where}; last event ${JSON.stringify(last ?? null)}`;
    });
    return `last trace: ${JSON.stringify(this.trace.slice(-3))}; ${sides.join('; ')}`;
  }

  /** Resolves when `predicate` holds, checked after every event; rejects after `timeoutMs` (of the cluster's clock). */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (!predicate()) return;
        this.listeners.delete(listener);
        cancel();
        resolve();
      };
      const cancel = this.clock.after(timeoutMs, () => {
        this.listeners.delete(listener);
        reject(new Error(`cluster: not ${what} within ${timeoutMs} ms (${this.describeForTimeout()})`));
      });
      this.listeners.add(listener);
    });
  }

  /**
   * Audits the ledger that serves the client against everything the client
   * was shown, through the ledger's own protocol: every answered id is asked
   * again (it must come back as it was), then the total. Returns what is wrong;
   * the client's report counts it too.
   */
  async auditLedger(timeoutMs = 60_000): Promise<string[]> {
    const name = this.names[this.serving];
    await this.waitFor(() => !this.client.pending, timeoutMs, 'without a request outstanding');
    this.client.startReask();
    const missing: string[] = [];
    await this.waitFor(() => this.client.reaskWaiting === 0, timeoutMs, 'answered the audit').catch(() => {
      missing.push(`${name} did not answer ${this.client.reaskWaiting} audited ids within ${timeoutMs} ms`);
    });
    await this.waitFor(() => !this.client.pending, timeoutMs, 'without a request outstanding');
    const total = Number((await this.ask({ op: 'get' }, timeoutMs)).split(' ')[2]);
    return [...missing, ...this.client.finishReask(total, name)];
  }

  /** Sends one request as the client and resolves with its reply once released. */
  async ask(operation: ClientOperation, timeoutMs = 30_000): Promise<string> {
    const request = this.client.request(operation);
    let reply = '';
    const stop = this.client.onAnswer((answer) => {
      if (answer.id === request.id) reply = answer.reply;
    });
    try {
      await this.waitFor(() => reply !== '', timeoutMs, `answered ${request.id}`);
    } finally {
      stop();
    }
    return reply;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReleased(listener: (side: Side, lines: string[]) => void): () => void {
    this.releasedListeners.add(listener);
    return () => this.releasedListeners.delete(listener);
  }

  checkpointNow(): void {
    this.input({ kind: 'checkpoint-now' });
  }

  /**
   * The operator's settings, now and for every later pair. A gate (step mode,
   * breakpoints, speed) is one side's when `side` is given, else both sides'.
   * Resolves once the PCs have them.
   */
  configure(change: SettingsChange, side?: Side): Promise<void> {
    return this.input({ kind: 'configure', change, ...(side ? { side } : {}) });
  }

  /** Releases one held protocol message, from whichever side holds one. */
  async step(): Promise<boolean> {
    for (const vm of [this.primary, this.secondary]) {
      if (vm?.alive && (await vm.replication.step())) return true;
    }
    return false;
  }

  /** QEMU's x-colo-lost-heartbeat on the secondary: take over now (the operator is the arbiter). */
  failover(): void {
    this.input({ kind: 'failover' });
  }

  killPrimary(): void {
    this.input({ kind: 'kill', side: 'primary' });
  }

  killSecondary(): void {
    this.input({ kind: 'kill', side: 'secondary' });
  }

  /** The primary hangs but its worker lives: only the missing heartbeats give it away. */
  freezePrimary(): void {
    this.input({ kind: 'freeze-primary' });
  }

  /**
   * `node`'s worker ended without the host ending it (the tab that ran it
   * closed): its silence is no false alarm. The pair still finds out by itself.
   */
  workerEnded(node: N, detail: string): void {
    const side = node === this.primary ? 'primary' : node === this.secondary ? 'secondary' : node === this.standby ? 'standby' : undefined;
    if (side) this.input({ kind: 'worker-ended', side, detail });
  }

  /** Partition: both sides are alive and lose each other. */
  cutLink(): void {
    this.input({ kind: 'cut-link' });
  }

  dispose(): void {
    this.stopRetries();
    this.deadline.cancel();
    for (const vm of [this.primary, this.secondary, this.standby]) vm?.terminate();
    for (const port of this.relayPorts) port.close();
    this.listeners.clear();
    this.releasedListeners.clear();
  }

  /**
   * Bytes from outside the client (another client on the same port, or a
   * hostile one): they take the same path as the client's requests.
   */
  sendRawClientInput(data: string | Uint8Array): void {
    this.sendToServing(data);
  }

  // The serving PC gets every client byte; in compare mode the secondary gets
  // a copy, marked with where it sits in the primary's stream (see replayClientInput).
  private sendToServing(line: string | Uint8Array): void {
    const at = this.clientBytes;
    this.clientBytes += typeof line === 'string' ? new TextEncoder().encode(line).length : line.length;
    const { serve, mirror } = this.core.clientTargets();
    for (const side of [serve, mirror]) if (side) void this.node(side)?.sendClient(line, at).catch(() => {});
  }

  private node(side: Side | 'standby'): N | undefined {
    return side === 'primary' ? this.primary : side === 'secondary' ? this.secondary : this.standby;
  }

  /** Hands `input` to the core and carries out its effects; resolves once the commands it sent are answered. */
  private input(input: HostInput): Promise<void> {
    const sent = this.apply(input);
    this.notify();
    return Promise.all(sent).then(() => {});
  }

  /** The core's effects of `input`, carried out, without telling the listeners yet. */
  private apply(input: HostInput): Promise<unknown>[] {
    const done = this.core.handle(input, this.clock.now()).map((effect) => this.perform(effect));
    this.armDeadline();
    return done;
  }

  /** One timer, for the core's earliest deadline: when it comes, the core is told the time. */
  private armDeadline(): void {
    const at = this.core.nextDeadline;
    if (at === this.deadline.at) return;
    this.deadline.cancel();
    this.deadline = { at, cancel: () => {} };
    if (at === undefined) return;
    this.deadline.cancel = this.clock.after(at - this.clock.now(), () => {
      this.deadline = { at: undefined, cancel: () => {} };
      this.input({ kind: 'tick' });
    });
  }

  private deadline: { at: number | undefined; cancel: () => void } = { at: undefined, cancel: () => {} };

  private perform(effect: HostEffect): Promise<unknown> {
    switch (effect.kind) {
      case 'trace':
        this.record({ kind: 'trace', event: { kind: 'host', time: this.clock.now(), action: effect.action, detail: effect.detail } });
        return Promise.resolve();
      case 'terminate':
        this.node(effect.side)?.terminate();
        if (effect.side === 'standby') this.standby = undefined;
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
        const { side, ping } = effect;
        const vm = this.node(side);
        // The core's deadline decides a ping that is never answered.
        if (!vm?.alive) void Promise.resolve().then(() => this.input({ kind: 'ping-answered', ping, answered: false }));
        else vm.replication.ping().then(
          () => this.input({ kind: 'ping-answered', ping, answered: true }),
          () => this.input({ kind: 'ping-answered', ping, answered: false }),
        );
        return Promise.resolve();
      }
      case 'deliver':
        for (const line of effect.lines) this.client.onReleasedLine(line);
        for (const listener of this.releasedListeners) listener(effect.side, effect.lines);
        return Promise.resolve();
      case 'retry-client':
        this.client.retry();
        return Promise.resolve();
      case 'start-standby':
        void this.startStandby(effect.name);
        return Promise.resolve();
      case 'pair':
        void this.startPair(effect.survivor, effect.pair);
        return Promise.resolve();
    }
  }

  private async startStandby(name: string): Promise<void> {
    // The core may give this spare up while it starts (ended, or its worker gone) and start another: only the one it still wants reports.
    const wanted = () => this.core.spare?.name === name;
    try {
      const spawned = this.options.spawn(name);
      const fresh = spawned instanceof Promise ? await spawned : spawned;
      if (!wanted()) {
        fresh.terminate();
        return;
      }
      this.standby = fresh;
      await fresh.start({ mode: 'standby', assetBase: this.options.assetBase });
      if (this.rebootArmed) await fresh.armReboot();
    } catch (err) {
      if (wanted()) this.input({ kind: 'standby-failed', error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (wanted()) this.input({ kind: 'standby-ready' });
  }

  private async startPair(survivor: Side, pair: number): Promise<void> {
    const primary = this.node(survivor);
    const secondary = this.standby;
    this.standby = undefined;
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
    this.generation = pair;
    for (const port of this.relayPorts) port.close();
    const channel = this.options.channel ?? directChannel;
    const { primaryPort, secondaryPort, relayPorts } = this.options.wireTap ? tappedChannel(this.options.wireTap) : wiring(channel());
    this.relayPorts = relayPorts;
    const listen = (side: Side, node: N) => (events: ReplicationEvent[]) => {
      if (pair === this.generation) return this.onEvents(side, events);
      // The survivor's previous role may still release output while its new pair starts.
      const servingNode = this.node(this.core.serving);
      if (node !== servingNode) return;
      const lines = events.flatMap((event) => (event.type === 'released' ? event.lines : []));
      if (lines.length > 0) this.input({ kind: 'released-before', lines });
    };
    // The settings each side starts with are the host's at that moment; a change made while a side starts waits in its worker for the role.
    await primary.startReplication('primary', pair, primaryPort, this.core.configFor('primary'), listen('primary', primary));
    await secondary.startReplication('secondary', pair, secondaryPort, this.core.configFor('secondary'), listen('secondary', secondary));
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

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
