// A page's copy of the service, kept from the service's updates (surface.ts):
// the state as last sent, the trace and heartbeats, each PC's console, and
// the client's requests and answers as they come. The views read only this,
// whether the service runs in the same tab or in a worker the tabs share.
import { Listeners } from '../shared/listeners.ts';
import { waitUntil } from '../shared/wait-until.ts';
import type { ClientAnswer, ClientRequest } from './ledger-client.ts';
import type { ClusterState, ClusterUpdate, PcInfo } from './surface.ts';
import { HeartbeatLog, TraceLog } from './trace-log.ts';
import { realClock, type Clock } from '../replication/ports.ts';
import { Transcript } from '../shared/transcript.ts';
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

/** One PC's console as the page has it: its text, and word of more. */
export class ConsoleFeed {
  private readonly text = new Transcript();
  private readonly listeners = new Listeners<[text: string]>();

  constructor(
    readonly pc: number,
    private readonly clock: Clock,
  ) {}

  append(text: string): void {
    this.text.append(text);
    this.listeners.emit(text);
  }

  get retained(): string {
    return this.text.retained;
  }

  get end(): number {
    return this.text.end;
  }

  /** Whether the console shows `text` at or after `from`. */
  has(text: string, from = 0): boolean {
    return this.text.indexOf(text, from) !== -1;
  }

  onText(listener: (text: string) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Resolves once the console shows `text` at or after `from`; rejects after `timeoutMs`. */
  waitFor(text: string, timeoutMs: number, from = 0): Promise<void> {
    return waitUntil(
      () => this.text.indexOf(text, from) !== -1,
      (check) => this.onText(check),
      this.clock,
      timeoutMs,
      () => new Error(`no "${text}" on the console within ${timeoutMs} ms`),
    );
  }
}

export class ClusterFeed {
  private current: ClusterState | undefined;
  private readonly log = new TraceLog();
  private readonly beats = new HeartbeatLog();
  private readonly consoles = new Map<number, ConsoleFeed>();
  private readonly listeners = new Listeners();
  private readonly answerListeners = new Listeners<[answer: ClientAnswer]>();
  private readonly sentListeners = new Listeners<[request: ClientRequest]>();
  /** Resolves once the pair replicates; rejects with the host's reason if it could not start. */
  readonly started: Promise<void>;
  private settleStart: (err?: string) => void = () => {};
  /** The service started a new pair after this page had shown one (the last one was over). */
  onNewPair: () => void = () => {};

  constructor(private readonly clock: Clock = realClock) {
    this.started = new Promise<void>((resolve, reject) => {
      this.settleStart = (err) => (err === undefined ? resolve() : reject(new Error(err)));
    });
    this.started.catch(() => {});
  }

  apply(update: ClusterUpdate): void {
    if (update.catchUp && this.current?.started) {
      this.onNewPair();
      return;
    }
    this.current = update.state;
    for (const event of update.trace) this.log.record(event);
    for (const { side, sent } of update.heartbeats) this.beats.record(side, sent);
    for (const { pc, text } of update.serial) this.console(pc).append(text);
    for (const request of update.sent) this.sentListeners.emit(request);
    for (const answer of update.answers) this.answerListeners.emit(answer);
    if (update.state.startError !== undefined) this.settleStart(update.state.startError);
    else if (update.state.started) this.settleStart();
    this.listeners.emit();
  }

  /** The state as the service last sent it. */
  get state(): ClusterState {
    if (!this.current) throw new Error('no word from the service yet');
    return this.current;
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  /** Protocol events of both sides and the host, in time order: the most recent of them. */
  get trace(): TraceEvent[] {
    return this.log.events;
  }

  get traceDropped(): number {
    return this.log.dropped;
  }

  heartbeatsSent(side: Side): readonly number[] {
    return this.beats.sent(side);
  }

  /** The PC in `side`'s role, if one has started. */
  pcIn(side: Side): PcInfo | undefined {
    const pc = this.current?.roles[side];
    return this.current?.pcs.find((info) => info.pc === pc);
  }

  console(pc: number): ConsoleFeed {
    let feed = this.consoles.get(pc);
    if (!feed) this.consoles.set(pc, (feed = new ConsoleFeed(pc, this.clock)));
    return feed;
  }

  onAnswer(listener: (answer: ClientAnswer) => void): () => void {
    return this.answerListeners.add(listener);
  }

  onSent(listener: (request: ClientRequest) => void): () => void {
    return this.sentListeners.add(listener);
  }

  /** Called after every update. */
  subscribe(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  /** Resolves when `predicate` holds, checked after every update; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitUntil(
      () => this.current !== undefined && predicate(),
      (check) => this.subscribe(check),
      this.clock,
      timeoutMs,
      () => new Error(`not ${what} within ${timeoutMs} ms`),
    );
  }
}
