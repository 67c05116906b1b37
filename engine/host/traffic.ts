// The demo's client traffic: one ledger request at a time, a small random add
// a moment after each answer, so there is always output waiting for a
// checkpoint. It can be turned off, and a request sent by hand.
import type { ClientOperation, ClientRequest, LedgerClient } from './ledger-client.ts';
import type { Clock } from '../replication/ports.ts';

const THINK_MS = 250;

export class ClientTraffic {
  private auto = true;
  private cancel: () => void = () => {};
  private readonly sentListeners = new Set<(request: ClientRequest) => void>();
  private readonly stopAnswers: () => void;

  constructor(
    private readonly client: Pick<LedgerClient, 'pending' | 'request' | 'onAnswer'>,
    private readonly clock: Clock,
  ) {
    this.stopAnswers = client.onAnswer(() => this.scheduleNext());
  }

  onSent(listener: (request: ClientRequest) => void): () => void {
    this.sentListeners.add(listener);
    return () => this.sentListeners.delete(listener);
  }

  get automatic(): boolean {
    return this.auto;
  }

  setAutomatic(on: boolean): void {
    this.auto = on;
    if (on) this.scheduleNext();
    else this.cancel();
  }

  /** Sends one request now if none is outstanding; false if one is. */
  send(operation: ClientOperation): boolean {
    if (this.client.pending) return false;
    const request = this.client.request(operation);
    for (const listener of this.sentListeners) listener(request);
    return true;
  }

  /** Begins sending (when automatic). */
  start(): void {
    this.scheduleNext();
  }

  dispose(): void {
    this.cancel();
    this.stopAnswers();
    this.sentListeners.clear();
  }

  private scheduleNext(): void {
    this.cancel();
    if (!this.auto) return;
    this.cancel = this.clock.after(THINK_MS, () => {
      if (this.auto) this.send({ op: 'add', amount: 1 + Math.floor(Math.random() * 9) });
    });
  }
}
