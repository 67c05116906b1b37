// The ledger's client: sends requests to whichever VM is primary, retries an
// unanswered one with the same id after failover, and checks every reply it is
// shown against what it was shown before. A released reply may never be
// contradicted: a retried id must get the same answer, and totals must equal
// the sum of the client's own acknowledged adds (it is the only writer).
import { ledgerRequest } from '../vm/guest-protocol.ts';

/** rand and time answer differently on two VMs on purpose: compare mode must notice. */
export type ClientOperation = { op: 'add'; amount: number } | { op: 'get' } | { op: 'rand' } | { op: 'time' };

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
  total: number;
  sentAt: number;
  answeredAt: number;
  attempts: number;
}

export interface ClientReport {
  sent: number;
  answered: number;
  retries: number;
  /** Replies showing that an acknowledged add is missing. */
  lost: number;
  /** Replies that disagree with an earlier reply (same id, or totals). */
  contradicted: number;
  violations: string[];
}

const ANSWERS_KEPT = 1000;
const REPLY = /^([A-Za-z0-9]+) ok (-?\d+)(?: .*)?$/;

export class LedgerClient {
  private sequence = 0;
  private outstanding: ClientRequest | undefined;
  private readonly answers = new Map<string, string>();
  private expectedTotal = 0;
  private readonly report: ClientReport = { sent: 0, answered: 0, retries: 0, lost: 0, contradicted: 0, violations: [] };
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
    this.report.sent += 1;
    this.send(ledgerRequest(request.id, describe(operation)));
    return request;
  }

  /** Sends the unanswered request again, same id (after failover, or a long silence). */
  retry(): void {
    const request = this.outstanding;
    if (!request) return;
    request.attempts += 1;
    request.lastSentAt = this.now();
    this.report.retries += 1;
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
    const match = REPLY.exec(line);
    if (!match) return;
    const [, id = '', totalText = ''] = match;
    const total = Number(totalText);
    const earlier = this.answers.get(id);
    if (earlier !== undefined) {
      if (earlier !== line) this.violation('contradicted', `id ${id} answered "${earlier}" before, now "${line}"`);
      return;
    }
    const request = this.outstanding;
    if (!request || request.id !== id) return;
    const expected = this.expectedTotal + (request.operation.op === 'add' ? request.operation.amount : 0);
    if (total < expected) this.violation('lost', `${line}: total ${total}, acknowledged adds sum to ${expected}`);
    if (total > expected) this.violation('contradicted', `${line}: total ${total}, acknowledged adds sum to ${expected}`);
    this.expectedTotal = total;
    this.answers.set(id, line);
    // Only recent ids can come back (a retry repeats the one outstanding request).
    if (this.answers.size > ANSWERS_KEPT) this.answers.delete(this.answers.keys().next().value ?? '');
    this.outstanding = undefined;
    this.report.answered += 1;
    const answer = { id, reply: line, total, sentAt: request.sentAt, answeredAt: this.now(), attempts: request.attempts };
    for (const listener of this.listeners) listener(answer);
  }

  summary(): ClientReport {
    return { ...this.report, violations: [...this.report.violations] };
  }

  private violation(kind: 'lost' | 'contradicted', detail: string): void {
    this.report[kind] += 1;
    this.report.violations.push(`${kind}: ${detail}`);
  }
}

function describe(operation: ClientOperation): string {
  return operation.op === 'add' ? `add ${operation.amount}` : operation.op;
}
