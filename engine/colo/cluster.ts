// The host side of a replicated pair: two VM workers joined by a
// MessageChannel over which they run COLO themselves. The host starts them,
// relays commands, keeps the merged trace, routes the client to whichever VM
// is primary, and fences an old primary once the secondary has taken over.
import type { ClientOperation } from './client-operation.ts';
import { LedgerClient } from './ledger-client.ts';
import type { CheckpointMode, ReplicationConfig } from '../replication/config.ts';
import type { ReplicationEvent, ReplicationStatus } from '../replication/events.ts';
import type { GateConfig } from '../replication/link.ts';
import { realClock, type Clock } from '../replication/ports.ts';
import type { Side } from '../protocol/messages.ts';
import type { HostAction, TraceEvent } from '../protocol/trace.ts';
import type { ClusterNode } from '../replication/cluster-node.ts';

/**
 * Sees every message between the two workers and returns what to deliver in
 * its place: the message itself, an altered copy, nothing, or more. For
 * fault-injection tests; without it the workers talk over one MessageChannel.
 */
export type WireTap = (from: Side, message: WireData) => WireData[];
export type WireData = Record<string, unknown> & { payload?: ArrayBuffer };

export interface ClusterOptions<N extends ClusterNode = ClusterNode> {
  spawn: () => N;
  assetBase: string;
  replication: ReplicationConfig;
  wireTap?: WireTap;
  /** Defaults to the real clock; the simulation brings a virtual one. */
  clock?: Clock;
  /** Defaults to a MessageChannel. */
  channel?: () => [MessagePort, MessagePort];
  /** An unanswered request is sent again after this long (default CLIENT_RETRY_MS). */
  clientRetryMs?: number;
  /** How long the host waits for a primary's answer before it counts as hung (default ARBITER_PING_MS). */
  arbiterPingMs?: number;
}

type Listener = () => void;

/** An unanswered request is sent again after this long (replies may wait for a checkpoint). */
const CLIENT_RETRY_MS = 5000;

/** About 15 minutes of checkpoints once a second. */
const TRACE_LIMIT = 20_000;

/** How long the host waits for a primary to answer before it counts as hung. */
const ARBITER_PING_MS = 500;

export class ColoCluster<N extends ClusterNode = ClusterNode> {
  /** Protocol events of both sides and the host, in time order: the most recent TRACE_LIMIT of them. */
  readonly trace: TraceEvent[] = [];
  /** How many events were dropped from the front of `trace`, so readers can keep an absolute position. */
  traceDropped = 0;
  readonly client: LedgerClient;
  /** Latest status reported by each side's worker. */
  readonly status: Partial<Record<Side, ReplicationStatus>> = {};
  primary: N | undefined;
  secondary: N | undefined;
  /** Which worker serves the client: the original primary, or the secondary after takeover. */
  serving: Side = 'primary';
  /** Host-side facts the workers cannot report: who was killed, frozen or fenced. */
  readonly fate: Record<Side, 'alive' | 'killed' | 'frozen' | 'fenced'> = { primary: 'alive', secondary: 'alive' };
  private operatorFailover = false;
  private confirmedAlone = false;
  /** Bumped by every (re-)start of replication: events of an older pair are not heard. */
  private generation = 0;
  private machinesMade = 0;
  /** The name of the PC in each role, for people: PC A, PC B, PC C… */
  readonly names: Record<Side, string> = { primary: '', secondary: '' };
  private arbitrating = false;
  private heldForArbitration: string[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly releasedListeners = new Set<(side: Side, lines: string[]) => void>();
  private relayPorts: MessagePort[] = [];

  private readonly clock: Clock;
  /** The configuration as the operator last set it: every pair, and every later one, gets it. */
  private readonly desired: ReplicationConfig;
  /** The gate of each role's side (the configuration's own gate is the primary's). */
  private readonly gates: Record<Side, GateConfig>;
  /** Bytes sent to the serving primary's client port so far: positions in its client stream. */
  private clientBytes = 0;

  constructor(private readonly options: ClusterOptions<N>) {
    this.clock = options.clock ?? realClock;
    const { replication } = options;
    this.desired = { ...replication, compare: { ...replication.compare }, heartbeat: { ...replication.heartbeat } };
    this.gates = { primary: replication.gate, secondary: replication.gate };
    this.client = new LedgerClient((line) => this.sendToPrimary(line), () => this.clock.now());
    // Like TCP retransmitting: a request unanswered for long is sent again, same id.
    const retryMs = options.clientRetryMs ?? CLIENT_RETRY_MS;
    this.stopRetries = this.clock.every(retryMs, () => {
      const pending = this.client.pending;
      if (pending && this.clock.now() - pending.lastSentAt >= retryMs) this.client.retry();
    });
  }

  private readonly stopRetries: () => void;

  /** Starts the primary from the booted snapshot and a secondary in standby, then replication. */
  async start(): Promise<void> {
    const { spawn, assetBase } = this.options;
    this.primary = spawn();
    this.secondary = spawn();
    this.names.primary = this.nextName();
    this.names.secondary = this.nextName();
    this.host('start', `${this.names.primary} from the booted snapshot, ${this.names.secondary} in standby`);
    try {
      await Promise.all([
        this.primary.start({ mode: 'snapshot', assetBase }),
        this.secondary.start({ mode: 'standby', assetBase }),
      ]);
      await this.replicate(this.primary, this.secondary);
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** After a failover, or with the secondary gone: a fresh secondary starts from the survivor's full state. */
  get canReprotect(): boolean {
    const survivor = this.serving === 'secondary' ? this.secondary : this.primary;
    const survivorSide: Side = this.serving;
    const ended = this.serving === 'secondary' || this.status.primary?.phase === 'exited';
    // While the host arbitrates it does not yet know which PC survives.
    return ended && !!survivor?.alive && this.fate[survivorSide] === 'alive' && !this.reprotecting && !this.arbitrating;
  }

  /** The configuration every new pair gets: what the operator last chose (the gate: the primary's). */
  get config(): Readonly<ReplicationConfig> {
    return this.configFor('primary');
  }

  /** What the operator last chose, with that side's gate: a copy, so a pair cannot change it. */
  private configFor(side: Side): ReplicationConfig {
    return { ...this.desired, compare: { ...this.desired.compare }, gate: this.gates[side] };
  }

  /**
   * Why no PC can serve the client any more, or undefined while one can (or
   * may yet, by a failover). The page says it rather than wait.
   */
  get serviceLost(): string | undefined {
    if (this.arbitrating) return undefined;
    const side = this.serving;
    const node = side === 'primary' ? this.primary : this.secondary;
    if (node?.alive && this.fate[side] === 'alive') return undefined;
    // A secondary can take over once it holds a checkpoint, or is loading one.
    const secondary = this.status.secondary;
    const canTakeOver = secondary !== undefined && secondary.phase !== 'exited' && (secondary.committed > 0 || secondary.phase === 'loading');
    if (side === 'primary' && this.secondary?.alive && this.fate.secondary === 'alive' && canTakeOver) return undefined;
    const why = side === 'primary' && secondary?.phase === 'exited' ? `; ${this.names.secondary} left COLO: ${secondary.exitDetail}` : '';
    return `${this.names[side]}, which served the client, is ${this.fate[side] === 'alive' ? 'gone' : this.fate[side]} and no PC can take over${why}`;
  }

  private reprotecting = false;
  private autoReprotect = false;

  /** Start a new secondary by itself whenever the pair ends up unprotected. */
  setAutoReprotect(on: boolean): void {
    this.autoReprotect = on;
    this.maybeAutoReprotect();
  }

  private maybeAutoReprotect(): void {
    if (!this.autoReprotect || !this.canReprotect) return;
    // Only once the survivor is settled: serving, and (if the old primary) releasing again.
    if (this.serving === 'primary' && !this.confirmedAlone) return;
    void this.reprotect().catch((err: unknown) => this.host('reprotect', `failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  async reprotect(): Promise<void> {
    if (!this.canReprotect) throw new Error('cluster: nothing to re-protect (no survivor out of COLO)');
    this.reprotecting = true;
    try {
      const survivorSide = this.serving;
      const survivor = survivorSide === 'secondary' ? this.secondary : this.primary;
      const partner = survivorSide === 'secondary' ? this.primary : this.secondary;
      if (!survivor) return;
      partner?.terminate();
      const fresh = this.options.spawn();
      const survivorName = this.names[survivorSide];
      const freshName = this.nextName();
      this.host('reprotect', `${freshName} starts in standby; it will receive ${survivorName}'s full state`);
      await fresh.start({ mode: 'standby', assetBase: this.options.assetBase });
      if (!survivor.alive || this.fate[survivorSide] !== 'alive') {
        fresh.terminate();
        this.host('reprotect', `abandoned: ${survivorName} is gone`);
        return;
      }
      this.primary = survivor;
      this.secondary = fresh;
      this.names.primary = survivorName;
      this.names.secondary = freshName;
      this.serving = 'primary';
      this.fate.primary = 'alive';
      this.fate.secondary = 'alive';
      delete this.status.primary;
      delete this.status.secondary;
      this.operatorFailover = false;
      this.confirmedAlone = false;
      await this.replicate(survivor, fresh);
    } finally {
      this.reprotecting = false;
      this.notify();
    }
  }

  private async replicate(primary: N, secondary: N): Promise<void> {
    const generation = ++this.generation;
    for (const port of this.relayPorts) port.close();
    const channel = this.options.channel ?? directChannel;
    const { primaryPort, secondaryPort, relayPorts } = this.options.wireTap ? tappedChannel(this.options.wireTap) : wiring(channel());
    this.relayPorts = relayPorts;
    const listen = (side: Side, node: N) => (events: ReplicationEvent[]) => {
      if (generation === this.generation) {
        this.onEvents(side, events);
        return;
      }
      // A survivor's output released by its previous role, while re-protection
      // was starting, is still real output of the PC that serves the client.
      const servingNode = this.serving === 'primary' ? this.primary : this.secondary;
      if (node !== servingNode) return;
      for (const event of events) if (event.type === 'released') this.deliver(this.serving, event.lines);
    };
    await primary.startReplication('primary', primaryPort, this.configFor('primary'), listen('primary', primary));
    await secondary.startReplication('secondary', secondaryPort, this.configFor('secondary'), listen('secondary', secondary));
  }

  private nextName(): string {
    return `PC ${String.fromCharCode(65 + (this.machinesMade++ % 26))}`;
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
        reject(new Error(`cluster: not ${what} within ${timeoutMs} ms (last trace: ${JSON.stringify(this.trace.slice(-3))})`));
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

  /** The secondary holds a whole checkpoint: failover now loses nothing a client saw. */
  get protected(): boolean {
    const p = this.status.primary;
    return (
      this.serving === 'primary' &&
      this.fate.primary === 'alive' &&
      this.fate.secondary === 'alive' &&
      p !== undefined &&
      p.exitReason === 'none' &&
      p.committed >= 1 &&
      !!this.secondary?.alive
    );
  }

  /** The host is deciding between two sides that both claim to be primary. */
  get arbitrationPending(): boolean {
    return this.arbitrating;
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
    void this.primary?.replication.checkpointNow();
  }

  setPeriod(ms: number): void {
    this.desired.periodMs = ms;
    void this.primary?.replication.setPeriod(ms);
  }

  /** Step mode, breakpoints and speed of one role's side: now, and in every later pair. */
  setGate(side: Side, gate: GateConfig): Promise<void> {
    this.gates[side] = gate;
    const vm = side === 'primary' ? this.primary : this.secondary;
    return vm?.alive ? vm.replication.setGate(gate) : Promise.resolve();
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
    // While the host arbitrates, the secondary has already taken over: the host decides, not this command.
    if (!this.secondary?.alive || this.fate.secondary !== 'alive' || this.serving !== 'primary' || this.arbitrating) return;
    this.operatorFailover = true;
    this.host('failover-command', 'x-colo-lost-heartbeat sent to the secondary');
    void this.secondary.replication.lostHeartbeat();
  }

  /** From the primary's next checkpoint on, and for every later pair. */
  setMode(mode: CheckpointMode): void {
    this.desired.mode = mode;
    void this.primary?.replication.setMode(mode);
  }

  get mode(): CheckpointMode {
    return this.desired.mode;
  }

  /** COLO's compare mode on or off: both sides at once, and every later pair. */
  setCompare(enabled: boolean): void {
    this.desired.compare = { ...this.desired.compare, enabled };
    for (const vm of [this.primary, this.secondary]) if (vm?.alive) void vm.replication.setCompare(this.desired.compare);
  }

  get comparing(): boolean {
    return this.desired.compare.enabled;
  }

  setOutputCommit(mode: 'hold' | 'unsafe'): void {
    this.desired.outputCommit = mode;
    void this.primary?.replication.setOutputCommit(mode);
  }

  killPrimary(): void {
    if (!this.primary?.alive) return;
    this.host('kill-primary', 'primary worker terminated');
    this.fate.primary = 'killed';
    this.primary.terminate();
  }

  killSecondary(): void {
    if (!this.secondary?.alive) return;
    this.host('kill-secondary', 'secondary worker terminated');
    this.retireSecondary('killed');
  }

  // An operator failover waits for the secondary to answer it; a secondary
  // that can no longer answer must not keep the primary waiting for it.
  private retireSecondary(fate: 'killed' | 'fenced'): void {
    this.fate.secondary = fate;
    this.operatorFailover = false;
    this.secondary?.terminate();
  }

  /** The primary hangs but its worker lives: only the missing heartbeats give it away. */
  freezePrimary(): void {
    if (!this.primary?.alive || this.fate.primary !== 'alive') return;
    this.host('freeze-primary', 'primary VM stopped; it sends and reads nothing');
    this.fate.primary = 'frozen';
    void this.primary.replication.freeze();
  }

  /** Partition: both sides are alive and lose each other. */
  cutLink(): void {
    this.host('cut-link', 'the replication channel carries nothing more');
    for (const vm of [this.primary, this.secondary]) if (vm?.alive) void vm.replication.cutLink();
  }

  dispose(): void {
    this.stopRetries();
    this.primary?.terminate();
    this.secondary?.terminate();
    for (const port of this.relayPorts) port.close();
    this.listeners.clear();
    this.releasedListeners.clear();
  }

  /**
   * Bytes from outside the client (another client on the same port, or a
   * hostile one): they take the same path as the client's requests.
   */
  sendRawClientInput(data: string | Uint8Array): void {
    this.sendToPrimary(data);
  }

  private sendToPrimary(line: string | Uint8Array): void {
    const vm = this.serving === 'primary' ? this.primary : this.secondary;
    const at = this.clientBytes;
    this.clientBytes += typeof line === 'string' ? new TextEncoder().encode(line).length : line.length;
    if (vm?.alive) void vm.sendClient(line, at).catch(() => {});
    // Compare mode mirrors every request to the secondary, which runs it too,
    // marked with where it sits in the primary's stream (see replayClientInput).
    const mirror = this.serving === 'primary' && this.desired.compare.enabled && this.fate.secondary === 'alive' ? this.secondary : undefined;
    if (mirror?.alive) void mirror.sendClient(line, at).catch(() => {});
  }

  private onEvents(side: Side, events: ReplicationEvent[]): void {
    // A terminated worker's last messages may still be in flight: it is not heard.
    if (this.fate[side] === 'killed' || this.fate[side] === 'fenced') return;
    for (const event of events) {
      switch (event.type) {
        case 'trace':
          this.record(event.event);
          break;
        case 'status':
          this.onStatus(side, event.status);
          break;
        case 'released':
          if (side === 'secondary' && this.arbitrating) this.heldForArbitration.push(...event.lines);
          // Only the serving VM speaks for the service; a fenced one is not heard.
          else if (side === this.serving) this.deliver(side, event.lines);
          break;
      }
    }
    this.notify();
  }

  private onStatus(side: Side, status: ReplicationStatus): void {
    const wasProtected = this.protected;
    this.status[side] = status;
    if (!wasProtected && this.protected) this.host('protected', `secondary holds checkpoint ${status.committed}`);
    if (side === 'secondary' && status.role === 'primary' && this.serving === 'primary' && !this.arbitrating) {
      void this.arbitrate(status.committed);
    }
    if (side === 'secondary' && status.phase === 'exited') this.operatorFailover = false;
    this.settleAfterExit();
  }

  // A primary that left COLO holds its output until the host is sure no
  // secondary can take over: the host fences the secondary, then lets it go.
  private settleAfterExit(): void {
    const primary = this.status.primary;
    if (!primary || primary.phase !== 'exited' || this.confirmedAlone) return;
    if (this.serving !== 'primary' || this.arbitrating || this.operatorFailover) return;
    if (!this.primary?.alive || this.fate.primary !== 'alive') return;
    if (this.secondary?.alive && this.fate.secondary === 'alive') {
      this.host('fence', "secondary terminated: the primary left COLO, so the secondary's checkpoint no longer covers what it will release");
      this.retireSecondary('fenced');
    }
    this.confirmedAlone = true;
    void this.primary.replication.confirmAlone();
  }

  private deliver(side: Side, lines: string[]): void {
    for (const line of lines) this.client.onReleasedLine(line);
    for (const listener of this.releasedListeners) listener(side, lines);
  }

  // The secondary has taken over. If the primary is dead, killed or hung, the
  // secondary serves. If the primary still answers the host, it was the link
  // that failed: the primary may already have released output the secondary's
  // checkpoint does not cover, so the secondary is the one fenced.
  private async arbitrate(from: number): Promise<void> {
    this.arbitrating = true;
    const primaryAnswers =
      !this.operatorFailover &&
      this.fate.primary === 'alive' &&
      !!this.primary?.alive &&
      (await this.answersWithin(this.primary, this.options.arbiterPingMs ?? ARBITER_PING_MS));
    this.arbitrating = false;
    const held = this.heldForArbitration;
    this.heldForArbitration = [];
    // The secondary may have died while the host waited for the primary: then
    // it cannot serve whatever the ping said, and the primary, if alive, stays.
    const secondaryGone = !this.secondary?.alive || this.fate.secondary !== 'alive';
    if (secondaryGone && !primaryAnswers) {
      this.host('arbitrate', 'the secondary that took over is gone too: the primary stays, if it can serve');
      this.settleAfterExit();
      this.notify();
      return;
    }
    if (primaryAnswers) {
      this.host('arbitrate', 'the primary still answers the host: the link failed, not the primary; the secondary is fenced');
      this.retireSecondary('fenced');
      this.settleAfterExit();
      this.notify();
      return;
    }
    if (this.primary?.alive) {
      this.host('fence', 'old primary terminated after takeover, so it can never speak again');
      if (this.fate.primary === 'alive' || this.fate.primary === 'frozen') this.fate.primary = 'fenced';
      this.primary.terminate();
    }
    this.serving = 'secondary';
    this.host('primary-changed', `secondary took over from checkpoint ${from}`);
    this.deliver('secondary', held);
    this.client.retry();
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
    this.maybeAutoReprotect();
  }

  private async answersWithin(vm: N, ms: number): Promise<boolean> {
    let cancel = () => {};
    const timeout = new Promise<false>((resolve) => (cancel = this.clock.after(ms, () => resolve(false))));
    try {
      return await Promise.race([vm.replication.ping().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      cancel();
    }
  }

  private host(action: HostAction, detail: string): void {
    this.record({ kind: 'host', time: this.clock.now(), action, detail });
    this.notify();
  }

  // Batches from the two workers interleave; events are kept in time order,
  // and a long run keeps only the recent ones, so the page's memory stays flat.
  private record(event: TraceEvent): void {
    let at = this.trace.length;
    while (at > 0 && (this.trace[at - 1]?.time ?? 0) > event.time) at--;
    this.trace.splice(at, 0, event);
    if (this.trace.length > TRACE_LIMIT) {
      const drop = this.trace.length - TRACE_LIMIT + TRACE_LIMIT / 4;
      this.trace.splice(0, drop);
      this.traceDropped += drop;
    }
  }
}

interface Wiring {
  primaryPort: MessagePort;
  secondaryPort: MessagePort;
  /** Ports the host itself keeps (only when it relays). */
  relayPorts: MessagePort[];
}

function directChannel(): [MessagePort, MessagePort] {
  const channel = new MessageChannel();
  return [channel.port1, channel.port2];
}

function wiring([primaryPort, secondaryPort]: [MessagePort, MessagePort]): Wiring {
  return { primaryPort, secondaryPort, relayPorts: [] };
}

// Two channels with the host in the middle, relaying through the tap.
function tappedChannel(tap: WireTap): Wiring {
  const toPrimary = new MessageChannel();
  const toSecondary = new MessageChannel();
  const relay = (from: Side, into: MessagePort) => (event: MessageEvent) => {
    for (const out of tap(from, event.data as WireData)) into.postMessage(out, out.payload ? [out.payload] : []);
  };
  toPrimary.port2.onmessage = relay('primary', toSecondary.port2);
  toSecondary.port2.onmessage = relay('secondary', toPrimary.port2);
  return { primaryPort: toPrimary.port1, secondaryPort: toSecondary.port1, relayPorts: [toPrimary.port2, toSecondary.port2] };
}
