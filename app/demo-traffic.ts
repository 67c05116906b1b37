// The demo's client traffic: one ledger request at a time, a small random add
// after each answer, so there is always output waiting for a checkpoint.
import type { ClientOperation, ClientRequest, LedgerClient } from '../engine/host/ledger-client.ts';
import type { TrafficModel } from './model.ts';

const THINK_MS = 250;

export class DemoTraffic implements TrafficModel {
  private auto = true;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly sentListeners = new Set<(request: ClientRequest) => void>();

  constructor(private readonly cluster: { readonly client: Pick<LedgerClient, 'pending' | 'request' | 'onAnswer'> }) {
    cluster.client.onAnswer(() => this.scheduleNext());
  }

  onSent(listener: (request: ClientRequest) => void): void {
    this.sentListeners.add(listener);
  }

  setAuto(on: boolean): void {
    this.auto = on;
    if (on) this.scheduleNext();
    else clearTimeout(this.timer);
  }

  get isAuto(): boolean {
    return this.auto;
  }

  /** Sends one request now if none is outstanding; false if one is. */
  send(operation: ClientOperation): boolean {
    if (this.cluster.client.pending) return false;
    const request = this.cluster.client.request(operation);
    for (const listener of this.sentListeners) listener(request);
    return true;
  }

  start(): void {
    this.scheduleNext();
  }

  private scheduleNext(): void {
    clearTimeout(this.timer);
    if (!this.auto) return;
    this.timer = setTimeout(() => {
      if (this.auto) this.send({ op: 'add', amount: 1 + Math.floor(Math.random() * 9) });
    }, THINK_MS);
  }
}
