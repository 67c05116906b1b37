// The service, as the page sees it: the pair (cluster.ts), its one client
// (client-session.ts) and the demo's traffic, and the procedures an operator
// starts (a reboot, a fault at the breakpoint, moving the secondary). It
// implements the surface's commands (surface.ts) and tells each watcher what
// happened as data: the state whole, and what was added to the trace, the
// consoles and the client's history since its last update. One tab's page
// watches it directly; the tabs of a two-tab run through a shared worker.
import { ClientSession } from './client-session.ts';
import { ColoCluster, type ClusterOptions } from './cluster.ts';
import type { ClusterRecord } from './cluster-readings.ts';
import type { ClientAnswer, ClientOperation, ClientRequest } from './ledger-client.ts';
import { rebootGuest, type RebootingPc } from './reboot.ts';
import type { BreakFault, ClusterCommands, ClusterState, ClusterUpdate, PcInfo, PcReading, PcReadings, RebootState } from './surface.ts';
import { ClientTraffic } from './traffic.ts';
import type { ClusterNode, SettingsChange } from '../replication/commands.ts';
import { realClock, type Clock } from '../replication/ports.ts';
import type { MachineEvent, MemoryUse, SerialPort } from '../vm/machine-api.ts';
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

/** What the service needs of a PC: what the pair needs, its console, and the readings its panel shows. */
export interface ServicePc extends ClusterNode, RebootingPc {
  readonly machine: {
    sendSerial(port: SerialPort, data: string): Promise<void> | void;
    instructionCount(): Promise<number>;
    textScreen(): Promise<string[]>;
    memoryUse(): Promise<MemoryUse>;
  };
  subscribe(listener: (events: MachineEvent[]) => void): () => void;
}

export interface ServiceOptions<N extends ServicePc> extends ClusterOptions<N> {
  /** How long what happened is gathered before a watcher is told (0: at the end of the task). */
  updateEveryMs?: number;
  /** The tab a PC runs in, in a two-tab run. */
  tabOf?: (node: N) => number | undefined;
  /** What the spare waits for before it can start, if anything (a tab to run in). */
  spareWaitsFor?: () => string | undefined;
  /** An unanswered client request is sent again after this long. */
  clientRetryMs?: number;
}

/** The client's recent requests a watcher that comes later is shown. */
const RECENT_REQUESTS = 50;

interface Watcher {
  listener: (update: ClusterUpdate) => void;
  caughtUp: boolean;
  records: ClusterRecord[];
  serial: { pc: number; text: string }[];
  sent: ClientRequest[];
  answers: ClientAnswer[];
}

export class ClusterService<N extends ServicePc> implements ClusterCommands {
  readonly cluster: ColoCluster<N>;
  readonly client: ClientSession;
  readonly traffic: ClientTraffic;
  private readonly clock: Clock;
  private readonly pcs = new Map<N, PcInfo>();
  private started = false;
  private startError: string | undefined;
  private rebootState: RebootState = { kind: 'idle' };
  private breakFault: { fault: BreakFault; injectedAt?: number } | undefined;
  private readonly watchers = new Set<Watcher>();
  private recent: { request: ClientRequest; answer?: ClientAnswer }[] = [];
  private flushing: (() => void) | undefined;
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: ServiceOptions<N>) {
    this.clock = options.clock ?? realClock;
    this.cluster = new ColoCluster<N>({ ...options, spawn: (name) => this.spawn(name) });
    this.client = new ClientSession(this.cluster, this.clock, options.clientRetryMs);
    this.traffic = new ClientTraffic(this.client.ledger, this.clock);
    this.stops.push(
      this.cluster.onRecord((record) => this.queue((w) => w.records.push(record))),
      this.cluster.subscribe(() => {
        this.injectAtBreak();
        this.schedule();
      }),
      this.client.ledger.onAnswer((answer) => {
        const entry = this.recent.find((r) => r.request.id === answer.id);
        if (entry) entry.answer = answer;
        this.queue((w) => w.answers.push(answer));
      }),
      this.traffic.onSent((request) => {
        this.recent = [...this.recent.slice(1 - RECENT_REQUESTS), { request }];
        this.queue((w) => w.sent.push(request));
      }),
    );
  }

  /** Starts the pair; then the demo's client starts asking. */
  async start(): Promise<void> {
    try {
      await this.cluster.start();
      this.started = true;
      this.traffic.start();
    } catch (err) {
      this.startError = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      this.schedule();
    }
  }

  /** Everything a view may read, now. */
  state(): ClusterState {
    const { cluster } = this;
    const pc = (node: N | undefined) => (node ? this.pcs.get(node)?.pc : undefined);
    const [primary, secondary] = [pc(cluster.primary), pc(cluster.secondary)];
    return {
      started: this.started,
      ...(this.startError !== undefined ? { startError: this.startError } : {}),
      phase: cluster.phase.kind,
      status: { ...cluster.status },
      serving: cluster.serving,
      fate: { ...cluster.fate },
      names: { ...cluster.names },
      config: cluster.config,
      protected: cluster.protected,
      canReprotect: cluster.canReprotect,
      serviceLost: cluster.serviceLost,
      falseFailovers: cluster.falseFailovers,
      dismissedSuspicions: cluster.dismissedSuspicions,
      spare: cluster.spare,
      former: cluster.former,
      spareWaitsFor: this.options.spareWaitsFor?.(),
      roles: { ...(primary !== undefined ? { primary } : {}), ...(secondary !== undefined ? { secondary } : {}) },
      pcs: [...this.pcs].map(([node, info]) => ({ ...info, alive: node.alive, ...this.tabOf(node) })),
      client: { summary: this.client.ledger.summary(), pending: this.client.ledger.pending, automatic: this.traffic.automatic },
      reboot: this.rebootState,
      breakFault: this.breakFault,
    };
  }

  /** Tells `listener` what happens: first everything kept so far, then what was added since, gathered. */
  watch(listener: (update: ClusterUpdate) => void): () => void {
    const watcher: Watcher = { listener, caughtUp: false, records: [], serial: [], sent: [], answers: [] };
    this.watchers.add(watcher);
    this.schedule();
    return () => this.watchers.delete(watcher);
  }

  /** Something the state reads besides the pair changed (a spare now waits for a tab): watchers are told. */
  stateChanged(): void {
    this.schedule();
  }

  dispose(): void {
    this.flushing?.();
    for (const stop of this.stops) stop();
    this.traffic.dispose();
    this.client.dispose();
    this.cluster.dispose();
    this.watchers.clear();
  }

  // --- the commands (surface.ts)

  async configure(change: SettingsChange, side?: Side): Promise<void> {
    await this.cluster.configure(change, side);
  }

  async setAutoReprotect(on: boolean): Promise<void> {
    this.cluster.setSparePolicy({ autoReprotect: on });
  }

  async reprotect(): Promise<void> {
    await this.cluster.reprotect();
  }

  moveSecondary(): Promise<void> {
    return moveSecondary(this.cluster);
  }

  async checkpointNow(): Promise<void> {
    this.cluster.checkpointNow();
  }

  step(): Promise<boolean> {
    return this.cluster.step();
  }

  async failover(): Promise<void> {
    this.cluster.failover();
  }

  async kill(side: Side): Promise<void> {
    this.cluster.kill(side);
  }

  async freezePrimary(): Promise<void> {
    this.cluster.freezePrimary();
  }

  async cutLink(): Promise<void> {
    this.cluster.cutLink();
  }

  async setBreakFault(fault: BreakFault | undefined): Promise<void> {
    this.breakFault = fault && { fault };
    this.injectAtBreak();
    this.schedule();
  }

  auditLedger(): Promise<string[]> {
    return this.client.auditLedger();
  }

  async setAutomaticRequests(on: boolean): Promise<void> {
    this.traffic.setAutomatic(on);
    this.schedule();
  }

  async sendRequest(operation: ClientOperation): Promise<void> {
    this.traffic.send(operation);
  }

  async typeOnConsole(pc: number, text: string): Promise<void> {
    await this.node(pc).machine.sendSerial(0, text);
  }

  // Async, as over a port: a PC that ended meanwhile is a rejection the caller handles, never a throw in its timer.
  async read<R extends PcReading>(pc: number, what: R): Promise<PcReadings[R]> {
    return (await this.node(pc).machine[what]()) as PcReadings[R];
  }

  async rebootGuest(): Promise<void> {
    const side = this.cluster.serving;
    const pc = side === 'primary' ? this.cluster.primary : this.cluster.secondary;
    if (!pc?.alive || this.rebootState.kind === 'arming' || this.rebootState.kind === 'rebooting') return;
    const report = (state: RebootState) => ((this.rebootState = state), this.schedule());
    await rebootGuest(
      pc,
      this.cluster.names[side],
      () => this.cluster.armReboot(),
      report,
      () => this.clock.now(),
    );
  }

  // --- the procedures and the PCs

  // A fault chosen with a breakpoint is injected once, when the handshake first stops there.
  private injectAtBreak(): void {
    const chosen = this.breakFault;
    const type = this.cluster.config.gate.breakBefore[0];
    if (!chosen || chosen.injectedAt !== undefined || !type || this.cluster.serving !== 'primary') return;
    const trace = this.cluster.trace;
    const held = trace.findLast((e) => e.kind === 'held' && e.type === type);
    if (held?.kind !== 'held') return;
    const released = trace.some((e) => e.time >= held.time && e.kind === 'message' && e.at === 'sent' && e.type === type && e.checkpoint === held.checkpoint);
    if (released) return;
    chosen.injectedAt = held.time;
    const faults: Record<BreakFault, () => void> = {
      'kill-primary': () => this.cluster.kill('primary'),
      'freeze-primary': () => this.cluster.freezePrimary(),
      'cut-link': () => this.cluster.cutLink(),
      'kill-secondary': () => this.cluster.kill('secondary'),
    };
    faults[chosen.fault]();
  }

  private async spawn(name: string): Promise<N> {
    const node = await this.options.spawn(name);
    const info: PcInfo = { pc: this.pcs.size + 1, name, alive: true };
    this.pcs.set(node, info);
    node.subscribe((events) => {
      const text = events.flatMap((event) => (event.type === 'serial' && event.port === 0 ? [event.text] : [])).join('');
      if (text) this.queue((w) => w.serial.push({ pc: info.pc, text }));
    });
    this.schedule();
    return node;
  }

  private node(pc: number): N {
    const found = [...this.pcs].find(([node, info]) => info.pc === pc && node.alive)?.[0];
    if (!found) throw new Error(`PC ${pc} is not running`);
    return found;
  }

  private tabOf(node: N): { tab?: number } {
    const tab = this.options.tabOf?.(node);
    return tab === undefined ? {} : { tab };
  }

  // --- telling the watchers

  private queue(add: (watcher: Watcher) => void): void {
    for (const watcher of this.watchers) if (watcher.caughtUp) add(watcher);
    this.schedule();
  }

  private schedule(): void {
    this.flushing ??= this.clock.after(this.options.updateEveryMs ?? 0, () => {
      this.flushing = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const state = this.state();
    for (const watcher of this.watchers) {
      const update = watcher.caughtUp ? this.since(watcher, state) : this.catchUp(state);
      Object.assign(watcher, { caughtUp: true, records: [], serial: [], sent: [], answers: [] });
      watcher.listener(update);
    }
  }

  private since(watcher: Watcher, state: ClusterState): ClusterUpdate {
    const { records, serial, sent, answers } = watcher;
    return { state, catchUp: false, trace: traceOf(records), heartbeats: beatsOf(records), serial, sent, answers };
  }

  private catchUp(state: ClusterState): ClusterUpdate {
    const { cluster } = this;
    return {
      state,
      catchUp: true,
      trace: [...cluster.trace],
      heartbeats: (['primary', 'secondary'] as const).map((side) => ({ side, sent: [...cluster.heartbeatsSent(side)] })),
      serial: [...this.pcs].map(([node, info]) => ({ pc: info.pc, text: node.transcript(0) })),
      sent: this.recent.map((r) => r.request),
      answers: this.recent.flatMap((r) => (r.answer ? [r.answer] : [])),
    };
  }
}

/**
 * Make before break: a spare starts (in a two-tab run, in a tab that runs no
 * PC) while the secondary goes on protecting; once the spare is ready it
 * becomes the secondary of a new pair, and the old secondary keeps its
 * checkpoint until the new one holds one (HostCore's hand-over). The pair is
 * protected throughout.
 */
export async function moveSecondary(cluster: ColoCluster<ClusterNode>): Promise<void> {
  if (!cluster.protected || cluster.serving !== 'primary') throw new Error('the pair is not protected: nothing to move');
  const warm = cluster.warmSpare;
  cluster.setSparePolicy({ warmSpare: true });
  try {
    await cluster.waitFor(() => cluster.spare?.ready === true || !cluster.protected, cluster.spareStartMs, 'a spare ready to take the secondary’s place');
  } finally {
    cluster.setSparePolicy({ warmSpare: warm });
  }
  if (!cluster.protected || cluster.serving !== 'primary') throw new Error('the pair stopped being protected while the spare started: nothing to move');
  const before = cluster.pair;
  cluster.handOver();
  if (cluster.pair === before) throw new Error('the host did not hand over: the pair or the spare changed meanwhile');
  // Its end: the new secondary holds a checkpoint, or the hand-over was given up (the host then re-protects as after a fault).
  await cluster.waitFor(() => !cluster.handingOver, cluster.handOverMs + 1000, 'the new secondary holding a checkpoint');
}

const traceOf = (records: ClusterRecord[]): TraceEvent[] => records.flatMap((r) => (r.kind === 'trace' ? [r.event] : []));
const beatsOf = (records: ClusterRecord[]) => records.flatMap((r) => (r.kind === 'heartbeats' ? [{ side: r.side, sent: r.sent }] : []));
