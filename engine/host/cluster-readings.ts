// What the host knows of its pair, for whoever reads it: the policy's state
// (engine/host/host-core.ts), the trace of both sides and the host in time
// order, the heartbeats for drawing, and a wait for any of it to come true.
// ColoCluster (cluster.ts) is this plus the wiring that changes it.
import { Listeners } from '../shared/listeners.ts';
import { waitUntil } from '../shared/wait-until.ts';
import type { Fate, HostCore, Phase } from './host-core.ts';
import { HeartbeatLog, TraceLog } from './trace-log.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationStatus } from '../replication/events.ts';
import type { Clock } from '../replication/ports.ts';
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

/** What the host keeps of what happened: a trace event, or a batch of one side's heartbeat times. */
export type ClusterRecord = { kind: 'trace'; event: TraceEvent } | { kind: 'heartbeats'; side: Side; sent: number[] };

export abstract class ClusterReadings {
  private readonly log = new TraceLog();
  private readonly beats = new HeartbeatLog();
  private readonly listeners = new Listeners();
  private readonly recordListeners = new Listeners<[record: ClusterRecord]>();

  protected constructor(
    protected readonly core: HostCore,
    protected readonly clock: Clock,
  ) {}

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

  /** Which PC serves the client: the original primary, or the secondary after takeover. */
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

  /** After a failover, or with the secondary gone: a fresh secondary may start from the survivor's state. */
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

  /** A suspicion is being checked: which PC survives is not yet known. */
  get arbitrationPending(): boolean {
    return this.core.arbitrating;
  }

  /** Ends of protection with no PC ended or frozen by the host and no cut: a live PC too slow, or a link judged failed. */
  get falseFailovers(): number {
    return this.core.falseFailovers;
  }

  /** Suspicions the host dismissed because the suspect answered it (late heartbeats that cost nothing). */
  get dismissedSuspicions(): number {
    return this.core.dismissedSuspicions;
  }

  /** The PC started in standby while the pair is unprotected, ready to become the next secondary. */
  get spare(): { name: string; ready: boolean } | undefined {
    return this.core.spare;
  }

  /** Whether a spare waits while the pair is protected. */
  get warmSpare(): boolean {
    return this.core.warmSpare;
  }

  /** How long a spare may take to start before another replaces it. */
  get spareStartMs(): number {
    return this.core.spareStartMs;
  }

  /** The old secondary of a move under way, and the checkpoint it holds. */
  get former(): { name: string; checkpoint: number } | undefined {
    return this.core.former;
  }

  /** A move is under way: the old secondary keeps its checkpoint until the new one holds one. */
  get handingOver(): boolean {
    return this.core.handingOver;
  }

  /** How long the new secondary of a move may take to hold a checkpoint. */
  get handOverMs(): number {
    return this.core.handOverMs;
  }

  /** When the PC in `side`'s role sent its heartbeats, over the last minute or so: for drawing them. */
  heartbeatsSent(side: Side): readonly number[] {
    return this.beats.sent(side);
  }

  /** Every trace event and heartbeat batch as it is kept: for a copy of the trace elsewhere. */
  onRecord(listener: (record: ClusterRecord) => void): () => void {
    return this.recordListeners.add(listener);
  }

  /** Called after every batch of what the host heard or did. */
  subscribe(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  /** Resolves when `predicate` holds, checked after every event; rejects after `timeoutMs` (of the host's clock), saying where each side was. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitUntil(
      predicate,
      (check) => this.subscribe(check),
      this.clock,
      timeoutMs,
      () => new Error(`cluster: not ${what} within ${timeoutMs} ms (${this.describe()})`),
    );
  }

  protected record(record: ClusterRecord): void {
    if (record.kind === 'trace') this.log.record(record.event);
    else this.beats.record(record.side, record.sent);
    this.recordListeners.emit(record);
  }

  protected notify(): void {
    this.listeners.emit();
  }

  protected forgetListeners(): void {
    this.listeners.clear();
    this.recordListeners.clear();
  }

  /** What a timeout reports: the phase, the last events, and where each side last was and what it last said. */
  private describe(): string {
    const sides = (['primary', 'secondary'] as const).map((side) => {
      const status = this.core.status[side];
      const last = this.trace.findLast((e) => 'side' in e && e.side === side);
      const where = status
        ? `${status.role} ${status.phase}, checkpoint ${status.checkpoint}${status.exitDetail ? `, exited: ${status.exitDetail}` : ''}`
        : 'no status';
      return `${side}: ${where}; last event ${JSON.stringify(last ?? null)}`;
    });
    return `phase ${this.core.phase.kind}; last trace: ${JSON.stringify(this.trace.slice(-3))}; ${sides.join('; ')}`;
  }
}
