// The ledger's client: sends requests to whichever VM is primary, retries an
// unanswered one with the same id after failover, and shows every line it is
// released to its history checker. It can also audit the ledger that serves
// it, through the ledger's own protocol: a retried id gets its stored reply.
import type { ClientOperation } from './client-operation.ts';
import { describe } from './client-operation.ts';
import { HistoryChecker, type HistoryReport, type LedgerContents } from './history-checker.ts';
import { ledgerRequest } from '../vm/guest-protocol.ts';

export type { ClientOperation } from './client-operation.ts';

export interface ClientRequest {
  id: string;
  operation: ClientOperation;
  sentAt: number;
  lastSentAt: number;
  attempts: number;
}

export interface ClientAnswer {
  id: string;
  reply: string;
  sentAt: number;
  answeredAt: number;
  attempts: number;
}

export interface ClientReport extends HistoryReport {
  sent: number;
  retries: number;
}

/** An audit through the ledger's protocol: ids asked again, and those still unanswered. */
interface Reask {
  asked: string[];
  waiting: Set<string>;
  answers: Map<string, string>;
}

export class LedgerClient {
  private sequence = 0;
  private outstanding: ClientRequest | undefined;
  private readonly checker = new HistoryChecker();
  private sent = 0;
  private retries = 0;
  private reask: Reask | undefined;
  private readonly listeners = new Set<(answer: ClientAnswer) => void>();

  constructor(
    private readonly send: (line: string) => void,
    private readonly now: () => number,
    private readonly prefix = 'c',
  ) {}

  /** Sends the next request; one is outstanding at a time, so the ledger applies them in order. */
  request(operation: ClientOperation): ClientRequest {
    if (this.outstanding) throw new Error(`client: request ${this.outstanding.id} is still unanswered`);
    const now = this.now();
    const request = { id: `${this.prefix}${++this.sequence}`, operation, sentAt: now, lastSentAt: now, attempts: 1 };
    this.outstanding = request;
    this.sent += 1;
    this.checker.sent(request.id, operation);
    this.send(ledgerRequest(request.id, describe(operation)));
    return request;
  }

  /** Sends the unanswered request again, same id (after failover, or a long silence). */
  retry(): void {
    const request = this.outstanding;
    if (!request) return;
    request.attempts += 1;
    request.lastSentAt = this.now();
    this.retries += 1;
    this.send(ledgerRequest(request.id, describe(request.operation)));
  }

  get pending(): ClientRequest | undefined {
    return this.outstanding;
  }

  onAnswer(listener: (answer: ClientAnswer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A line the primary released to the outside world. */
  onReleasedLine(line: string): void {
    const judgement = this.checker.shown(line);
    const id = line.split(' ', 1)[0] ?? '';
    const reask = this.reask;
    if (reask?.waiting.delete(id)) reask.answers.set(id, line);
    const request = this.outstanding;
    // A violation for the outstanding id still answers it: the ledger stored that reply.
    if (!request || request.id !== id || judgement === 'repeat' || judgement === 'refused' || judgement === 'banner') return;
    this.outstanding = undefined;
    const answer = { id, reply: line, sentAt: request.sentAt, answeredAt: this.now(), attempts: request.attempts };
    for (const listener of this.listeners) listener(answer);
  }

  /**
   * Starts an audit through the ledger's protocol: every answered id is asked
   * again (op `audit`, which a stored id never reaches; an id the ledger lost
   * comes back as an error). Returns how many ids were asked.
   */
  startReask(): number {
    if (this.outstanding) throw new Error(`client: request ${this.outstanding.id} is still unanswered`);
    const ids = this.checker.answeredIds();
    this.reask = { asked: ids, waiting: new Set(ids), answers: new Map() };
    for (const id of ids) this.send(ledgerRequest(id, 'audit'));
    return ids.length;
  }

  /** Ids asked again and not answered yet. */
  get reaskWaiting(): number {
    return this.reask?.waiting.size ?? 0;
  }

  /**
   * Ends the audit: the ledger's answers to the ids asked again (with `total`,
   * read by a request of its own) are held to the history. Returns what is wrong.
   */
  finishReask(total: number, name: string): string[] {
    const reask = this.reask ?? { asked: [], waiting: new Set<string>(), answers: new Map<string, string>() };
    this.reask = undefined;
    return this.checker.audit({ storedReply: (id) => reask.answers.get(id), total }, name, reask.asked);
  }

  /** Holds a ledger read directly (the simulation's) to the history. */
  audit(ledger: LedgerContents, name?: string): string[] {
    return this.checker.audit(ledger, name);
  }

  /** The sum of the adds the client saw acknowledged. */
  get acknowledgedTotal(): number {
    return this.checker.acknowledgedTotal;
  }

  /** The checker's violations so far, without copying the report. */
  get violations(): readonly string[] {
    return this.checker.violations;
  }

  summary(): ClientReport {
    return { ...this.checker.summary(), sent: this.sent, retries: this.retries };
  }
}
