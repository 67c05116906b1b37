// A MessageChannel with faults: every message can be dropped, duplicated,
// delayed (and so reordered) or corrupted, by a seeded plan; a channel can be
// cut (a partition of that pair; a later pair gets a new channel), and the
// network can heal (no more faults from then on).
import type { PeerPort } from '../../engine/replication/ports.ts';
import type { SimScheduler } from './scheduler.ts';

export interface FaultPlan {
  drop: number;
  duplicate: number;
  corrupt: number;
  /** Random extra latency up to this many ms; with it, messages may overtake each other. */
  jitterMs: number;
  reorder: boolean;
  /**
   * Time a message carrying a state takes to cross and be read (a big state
   * takes milliseconds to verify): what follows it waits too. Not a fault, so
   * it stays when the network heals.
   */
  payloadMs?: number;
}

export type FaultKind = 'drop' | 'duplicate' | 'corrupt' | 'reorder';

export class SimNetwork {
  readonly injected: Record<FaultKind, number> = { drop: 0, duplicate: 0, corrupt: 0, reorder: 0 };
  private plan: FaultPlan;
  private readonly channels: { cut: boolean }[] = [];

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly random: () => number,
    plan: FaultPlan,
  ) {
    this.plan = plan;
  }

  channel(): [SimPort, SimPort] {
    const wire = { cut: false };
    this.channels.push(wire);
    const a = new SimPort(this, wire);
    const b = new SimPort(this, wire);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /** The channels made so far carry nothing more (those of later pairs do). */
  cutAll(): void {
    for (const wire of this.channels) wire.cut = true;
  }

  /** From now on no message is dropped, duplicated, corrupted or delayed. */
  heal(): void {
    this.plan = { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 0, reorder: false, payloadMs: this.plan.payloadMs ?? 0 };
  }

  /** `fn` as a task of its own, now. */
  later(fn: () => void): void {
    this.scheduler.after(0, fn);
  }

  /** The platform tells `to` its peer's end closed (its worker ended): after what was sent before, never lost or altered, but not across a cut. */
  sendClose(to: SimPort, wire: { cut: boolean }): void {
    if (wire.cut) return;
    const at = Math.max(this.scheduler.now() + 0.2, to.lastArrival);
    to.lastArrival = at;
    this.scheduler.after(at - this.scheduler.now(), () => {
      if (!wire.cut) to.peerClosed();
    });
  }

  send(to: SimPort, data: unknown, transfer: Transferable[], wire: { cut: boolean }): void {
    if (wire.cut) return;
    if (this.random() < this.plan.drop) {
      this.injected.drop++;
      return;
    }
    // Heartbeats are most of the traffic and hold only numbers: a copy is a clone.
    let message = isHeartbeat(data) ? { ...data } : structuredClone(data, { transfer: transfer as Transferable[] });
    if (this.random() < this.plan.corrupt) {
      this.injected.corrupt++;
      message = corrupt(message, this.random);
    }
    const copies = this.random() < this.plan.duplicate ? 2 : 1;
    if (copies === 2) this.injected.duplicate++;
    for (let i = 0; i < copies; i++) {
      const payload = transfer.length > 0 ? (this.plan.payloadMs ?? 0) : 0;
      const base = 0.2 + payload + this.random() * this.plan.jitterMs;
      let at = this.scheduler.now() + base;
      if (!this.plan.reorder || this.random() > 0.3) at = Math.max(at, to.lastArrival);
      else if (at < to.lastArrival) this.injected.reorder++;
      to.lastArrival = Math.max(to.lastArrival, at);
      const copy = i === 0 ? message : structuredClone(message);
      this.scheduler.after(at - this.scheduler.now(), () => {
        if (!wire.cut) to.deliver(copy);
      });
    }
  }
}

function isHeartbeat(data: unknown): data is { type: 'heartbeat'; sequence: number } {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'heartbeat';
}

function corrupt(message: unknown, random: () => number): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const m = { ...(message as Record<string, unknown>) };
  const payload = m.payload;
  if (payload instanceof ArrayBuffer && payload.byteLength > 0 && random() < 0.6) {
    const bytes = new Uint8Array(payload);
    const at = Math.floor(random() * bytes.length);
    bytes[at] = (bytes[at] ?? 0) ^ (1 + Math.floor(random() * 255));
    return m;
  }
  const choice = random();
  if (choice < 0.3 && typeof m.checkpoint === 'number') m.checkpoint += random() < 0.5 ? 1 : -1;
  else if (choice < 0.6) m.type = ['checkpoint-reply', 'vmstate-loaded', 'nonsense', 'vmstate-received'][Math.floor(random() * 4)];
  else if (choice < 0.8 && payload instanceof ArrayBuffer) m.payload = payload.slice(0, Math.floor(payload.byteLength * random()));
  else delete m.type;
  return m;
}

export class SimPort implements PeerPort {
  peer: SimPort | undefined;
  lastArrival = 0;
  private readonly listeners = new Set<(event: MessageEvent) => void>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;
  /** As a MessagePort's: what arrives before start() waits for it, in order, and is not lost. */
  private started = false;
  private readonly early: unknown[] = [];

  constructor(
    private readonly network: SimNetwork,
    private readonly wire: { cut: boolean },
  ) {}

  postMessage(message: unknown, transfer: Transferable[]): void {
    if (this.closed || !this.peer) return;
    this.network.send(this.peer, message, transfer, this.wire);
  }

  addEventListener(type: 'message' | 'close', listener: ((event: MessageEvent) => void) | (() => void)): void {
    if (type === 'close') this.closeListeners.add(listener as () => void);
    else this.listeners.add(listener);
  }

  removeEventListener(type: 'message' | 'close', listener: ((event: MessageEvent) => void) | (() => void)): void {
    if (type === 'close') this.closeListeners.delete(listener as () => void);
    else this.listeners.delete(listener);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // A real port dispatches what waited as tasks after start() returns.
    for (const data of this.early.splice(0)) this.network.later(() => this.deliver(data));
  }

  /** Closed here, or by the end of the worker that owns it: the peer hears of it, as Node's ports do. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.closeListeners.clear();
    if (this.peer) this.network.sendClose(this.peer, this.wire);
  }

  peerClosed(): void {
    if (this.closed) return;
    for (const listener of this.closeListeners) listener();
  }

  deliver(data: unknown): void {
    if (this.closed) return;
    if (!this.started) {
      this.early.push(data);
      return;
    }
    for (const listener of this.listeners) listener({ data } as MessageEvent);
  }
}
