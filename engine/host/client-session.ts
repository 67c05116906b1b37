// The service's one client, as the host runs it: the ledger's client (its
// requests, ids and history checker), sent through the pair to whichever PC
// serves, a request unanswered for long sent again with the same id (as TCP
// retransmits), and at once after a takeover; and the audit of the ledger
// that serves, through the ledger's own protocol.
import { waitUntil } from '../shared/wait-until.ts';
import type { ClientOperation } from './client-operation.ts';
import { LedgerClient } from './ledger-client.ts';
import type { Side } from '../protocol/messages.ts';
import type { Clock } from '../replication/ports.ts';

/** What the client needs of the pair: a way to the PC that serves, and word of what it released. */
export interface ClientRoute {
  /** Bytes for the serving PC's client port (and, in compare mode, the secondary's). */
  sendClient(data: string | Uint8Array): void;
  onReleased(listener: (side: Side, lines: string[]) => void): () => void;
  /** A takeover happened: an unanswered request goes to the new primary at once. */
  onTakeover(listener: () => void): () => void;
  /** The name of the PC that serves, for what the audit says. */
  readonly servingName: string;
}

/** An unanswered request is sent again after this long (replies may wait for a checkpoint). */
export const CLIENT_RETRY_MS = 5000;

export class ClientSession {
  readonly ledger: LedgerClient;
  private readonly waits = new Set<() => void>();
  private readonly stops: (() => void)[];

  constructor(
    private readonly route: ClientRoute,
    private readonly clock: Clock,
    retryMs = CLIENT_RETRY_MS,
  ) {
    this.ledger = new LedgerClient(
      (line) => route.sendClient(line),
      () => clock.now(),
    );
    const check = () => {
      for (const wait of [...this.waits]) wait();
    };
    this.stops = [
      route.onReleased((_side, lines) => {
        for (const line of lines) this.ledger.onReleasedLine(line);
        check();
      }),
      route.onTakeover(() => this.ledger.retry()),
      clock.every(retryMs, () => {
        const pending = this.ledger.pending;
        if (pending && clock.now() - pending.lastSentAt >= retryMs) this.ledger.retry();
      }),
    ];
  }

  /** Sends one request and resolves with its reply once released. */
  async ask(operation: ClientOperation, timeoutMs = 30_000): Promise<string> {
    const request = this.ledger.request(operation);
    let reply = '';
    const stop = this.ledger.onAnswer((answer) => {
      if (answer.id === request.id) reply = answer.reply;
    });
    try {
      await this.until(() => reply !== '', timeoutMs, `answered ${request.id}`);
    } finally {
      stop();
    }
    return reply;
  }

  /**
   * Audits the ledger that serves the client against everything the client
   * was shown, through the ledger's own protocol: every answered id is asked
   * again (it must come back as it was), then the total. Returns what is wrong;
   * the client's report counts it too.
   */
  async auditLedger(timeoutMs = 60_000): Promise<string[]> {
    const name = this.route.servingName;
    await this.until(() => !this.ledger.pending, timeoutMs, 'without a request outstanding');
    this.ledger.startReask();
    const missing: string[] = [];
    await this.until(() => this.ledger.reaskWaiting === 0, timeoutMs, 'answered the audit').catch(() => {
      missing.push(`${name} did not answer ${this.ledger.reaskWaiting} audited ids within ${timeoutMs} ms`);
    });
    await this.until(() => !this.ledger.pending, timeoutMs, 'without a request outstanding');
    const total = Number((await this.ask({ op: 'get' }, timeoutMs)).split(' ')[2]);
    return [...missing, ...this.ledger.finishReask(total, name)];
  }

  /** Bytes from outside the client (another client on the same port, or a hostile one): they take the client's path. */
  sendRaw(data: string | Uint8Array): void {
    this.route.sendClient(data);
  }

  dispose(): void {
    for (const stop of this.stops) stop();
    this.waits.clear();
  }

  /** Resolves when `predicate` holds, checked whenever lines are released; rejects after `timeoutMs` of the clock. */
  private until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const watch = (check: () => void) => {
      this.waits.add(check);
      return () => this.waits.delete(check);
    };
    return waitUntil(predicate, watch, this.clock, timeoutMs, () => {
      const pending = this.ledger.pending;
      const outstanding = pending
        ? `${pending.id} outstanding, sent ${pending.attempts} time(s), first ${Math.round(this.clock.now() - pending.sentAt)} ms ago`
        : 'nothing outstanding';
      return new Error(`client: not ${what} within ${timeoutMs} ms (${outstanding}; ${this.route.servingName} serves)`);
    });
  }
}
