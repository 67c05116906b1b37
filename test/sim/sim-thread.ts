// A worker's one thread, on virtual time. While it is blocked (a capture, an
// initial sync, a load: v86 works in the worker's only thread) nothing else
// runs there: its timers, the messages that reach it and the host's calls
// wait, and run in order once it is free, as in a real event loop (a repeating
// timer that fell behind fires once). What it sends while blocked leaves when
// the block ends: in a real worker that code would only run then.
import type { Clock, PeerPort } from '../../engine/replication/ports.ts';
import type { SimScheduler } from './scheduler.ts';

export class SimThread implements Clock {
  private busyUntil = 0;
  /** Blocks so far, and their total length: what a run reached. */
  blocks = 0;
  blockedMs = 0;

  constructor(private readonly scheduler: SimScheduler) {}

  now(): number {
    return this.scheduler.now();
  }

  /** The thread is busy for `ms` from now (on top of a block under way, whichever ends later). */
  block(ms: number): void {
    if (ms <= 0) return;
    const until = this.scheduler.now() + ms;
    if (until <= this.busyUntil) return;
    this.blocks++;
    this.blockedMs += until - Math.max(this.busyUntil, this.scheduler.now());
    this.busyUntil = until;
  }

  get busy(): boolean {
    return this.scheduler.now() < this.busyUntil;
  }

  /** Runs `fn` now, or once the thread is free, after what waited before it. */
  run(fn: () => void): void {
    if (!this.busy) {
      fn();
      return;
    }
    // Tasks deferred to the same moment keep the order they were deferred in.
    this.scheduler.after(this.busyUntil - this.scheduler.now(), () => this.run(fn));
  }

  after(ms: number, fn: () => void): () => void {
    let cancelled = false;
    const cancel = this.scheduler.after(ms, () => this.run(() => cancelled || fn()));
    return () => {
      cancelled = true;
      cancel();
    };
  }

  every(ms: number, fn: () => void): () => void {
    let cancelled = false;
    /** A tick that waits for the thread: the ones due meanwhile are not queued behind it. */
    let waiting = false;
    const cancel = this.scheduler.every(ms, () => {
      if (waiting) return;
      waiting = true;
      this.run(() => {
        waiting = false;
        if (!cancelled) fn();
      });
    });
    return () => {
      cancelled = true;
      cancel();
    };
  }

  /** `port` as seen from this thread: what arrives waits for it, what it sends while blocked leaves when the block ends. */
  port(port: PeerPort): PeerPort {
    return new ThreadPort(this, port);
  }
}

class ThreadPort implements PeerPort {
  private readonly onThread = new Map<unknown, (event: MessageEvent) => void>();

  constructor(
    private readonly thread: SimThread,
    private readonly port: PeerPort,
  ) {}

  postMessage(message: unknown, transfer: Transferable[]): void {
    this.thread.run(() => this.port.postMessage(message, transfer));
  }

  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'close', listener: () => void): void;
  addEventListener(type: 'message' | 'close', listener: (event: MessageEvent) => void): void {
    const wrapped = (event: MessageEvent) => this.thread.run(() => listener(event));
    this.onThread.set(listener, wrapped);
    if (type === 'close') this.port.addEventListener(type, wrapped as () => void);
    else this.port.addEventListener(type, wrapped);
  }

  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'close', listener: () => void): void;
  removeEventListener(type: 'message' | 'close', listener: (event: MessageEvent) => void): void {
    const wrapped = this.onThread.get(listener);
    this.onThread.delete(listener);
    if (!wrapped) return;
    if (type === 'close') this.port.removeEventListener(type, wrapped as () => void);
    else this.port.removeEventListener(type, wrapped);
  }

  start(): void {
    this.port.start();
  }

  close(): void {
    this.port.close();
  }
}
