// A page's copy of the service, kept from the service's updates (surface.ts):
// the state as last sent, the trace and heartbeats, each PC's console, and
// the client's requests and answers as they come. The views read only this,
// whether the service runs in the same tab or in a worker the tabs share.
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
  private readonly listeners = new Set<(text: string) => void>();

  constructor(
    readonly pc: number,
    private readonly clock: Clock,
  ) {}

  append(text: string): void {
    this.text.append(text);
    for (const listener of [...this.listeners]) listener(text);
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
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the console shows `text` at or after `from`; rejects after `timeoutMs`. */
  waitFor(text: string, timeoutMs: number, from = 0): Promise<void> {
    if (this.text.indexOf(text, from) !== -1) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.onText(() => {
        if (this.text.indexOf(text, from) === -1) return;
        stop();
        cancel();
        resolve();
      });
      const cancel = this.clock.after(timeoutMs, () => {
        stop();
        reject(new Error(`no "${text}" on the console within ${timeoutMs} ms`));
      });
    });
  }
}

export class ClusterFeed {
  private current: ClusterState | undefined;
  private readonly log = new TraceLog();
  private readonly beats = new HeartbeatLog();
  private readonly consoles = new Map<number, ConsoleFeed>();
  private readonly listeners = new Set<() => void>();
  private readonly answerListeners = new Set<(answer: ClientAnswer) => void>();
  private readonly sentListeners = new Set<(request: ClientRequest) => void>();
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
    for (const request of update.sent) for (const listener of [...this.sentListeners]) listener(request);
    for (const answer of update.answers) for (const listener of [...this.answerListeners]) listener(answer);
    if (update.state.startError !== undefined) this.settleStart(update.state.startError);
    else if (update.state.started) this.settleStart();
    for (const listener of [...this.listeners]) listener();
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
    this.answerListeners.add(listener);
    return () => this.answerListeners.delete(listener);
  }

  onSent(listener: (request: ClientRequest) => void): () => void {
    this.sentListeners.add(listener);
    return () => this.sentListeners.delete(listener);
  }

  /** Called after every update. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when `predicate` holds, checked after every update; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (this.current && predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.subscribe(() => {
        if (!predicate()) return;
        stop();
        cancel();
        resolve();
      });
      const cancel = this.clock.after(timeoutMs, () => {
        stop();
        reject(new Error(`not ${what} within ${timeoutMs} ms`));
      });
    });
  }
}
