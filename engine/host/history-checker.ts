// The client's history checker, in the spirit of Jepsen's: every line the
// client was shown is recorded and judged against what the client asked. One
// client, one request outstanding at a time, and it is the ledger's only
// writer, so the judgement is exact:
// - a line for the outstanding request must be a well-formed `ok` reply whose
//   total is the sum of the adds acknowledged so far (plus its own, for an add);
// - a line for an id answered before must repeat that answer exactly;
// - the ledger's refusal of a fragment (`- err malformed`, `- err bad-id`)
//   answers no id and is counted, not judged: a checkpoint can split a request;
// - so is its banner (`ledger: ready`), which it prints when it (re)starts:
//   what it says after it is judged as before (its journal keeps its answers);
// - anything else (an error for the client's id, a garbled line, an id never
//   sent) is a violation.
// At the end, the serving VM's ledger is audited: for every answered id it
// must hold the answer the client saw, and its total must be what was acknowledged.
import { describe, type ClientOperation } from './client-operation.ts';
import { LEDGER_READY } from '../vm/guest-protocol.ts';

export type ViolationKind = 'lost' | 'contradicted' | 'unexpected' | 'audit';

/** One thing the checker found wrong, as data: what kind, about which request, what was expected and what was seen. */
export interface Violation {
  kind: ViolationKind;
  /** The request it is about, if one. */
  id?: string;
  expected?: string;
  seen: string;
  /** The same, in words. */
  text: string;
}

export interface HistoryReport {
  /** Lines the client was shown. */
  shown: number;
  answered: number;
  /** Repeats of an earlier answer (a retried id, an audit): identical, so fine. */
  repeated: number;
  /** The ledger refusing a fragment: answers no id. */
  refused: number;
  /** The ledger's banner: it started again (from its journal). */
  restarts: number;
  /** A released line showing that an acknowledged add is missing. */
  lost: number;
  /** A released line that disagrees with an earlier one (same id, or totals). */
  contradicted: number;
  /** A line that is no well-formed answer to anything the client asked. */
  unexpected: number;
  /** Audits of a serving ledger, and the differences they found from the history. */
  audits: number;
  audit: number;
  /** What was found wrong, in words (the first 200). */
  violations: string[];
  /** The same, as data. */
  findings: Violation[];
}

/** What an audit reads from the ledger that serves the client. */
export interface LedgerContents {
  /** The reply the ledger stored for `id`, if any. */
  storedReply(id: string): string | undefined;
  total: number;
}

export type Judgement = 'answer' | 'repeat' | 'refused' | 'banner' | 'violation';

/** Everything the checker found wrong: the number the page's badge shows. */
export function violationCount(report: HistoryReport): number {
  return report.lost + report.contradicted + report.unexpected + report.audit;
}

const REFUSAL = /^- err (malformed|bad-id)$/;
const OK_REPLY = /^(\S+) ok (-?\d+)(?: (rand|time)=\d+)?$/;
/** Violations kept word for word; the counts go on. */
const VIOLATIONS_KEPT = 200;

/** A history in which nothing has happened yet. */
export function emptyHistoryReport(): HistoryReport {
  return {
    shown: 0,
    answered: 0,
    repeated: 0,
    refused: 0,
    restarts: 0,
    lost: 0,
    contradicted: 0,
    unexpected: 0,
    audits: 0,
    audit: 0,
    violations: [],
    findings: [],
  };
}

export class HistoryChecker {
  /** Every answer the client was shown, by id: the history the audit holds the ledger to. */
  private readonly answers = new Map<string, string>();
  private readonly sentIds = new Set<string>();
  private acknowledged = 0;
  private outstanding: { id: string; operation: ClientOperation } | undefined;
  private readonly report = emptyHistoryReport();

  /** The client sent a request (or sent it again). */
  sent(id: string, operation: ClientOperation): void {
    this.sentIds.add(id);
    if (!this.answers.has(id)) this.outstanding = { id, operation };
  }

  /** The sum of the adds the client saw acknowledged. */
  get acknowledgedTotal(): number {
    return this.acknowledged;
  }

  /** Ids the client was answered, in the order of their answers. */
  answeredIds(): string[] {
    return [...this.answers.keys()];
  }

  /** A line the client was shown. 'answer': it answers the outstanding request. */
  shown(line: string): Judgement {
    this.report.shown += 1;
    if (REFUSAL.test(line)) {
      this.report.refused += 1;
      return 'refused';
    }
    if (line === LEDGER_READY) {
      this.report.restarts += 1;
      return 'banner';
    }
    const id = line.split(' ', 1)[0] ?? '';
    const earlier = this.answers.get(id);
    if (earlier !== undefined) {
      if (earlier === line) {
        this.report.repeated += 1;
        return 'repeat';
      }
      this.violation('contradicted', `id ${id} was answered "${earlier}", now "${line}"`, { id, expected: earlier, seen: line });
      return 'violation';
    }
    const request = this.outstanding;
    if (!request || request.id !== id) {
      const what = this.sentIds.has(id) ? `${id} is not outstanding` : `no request ${id} was sent`;
      this.violation('unexpected', `"${line}": ${what}`, { id, seen: line });
      return 'violation';
    }
    // Whatever it says, this is the ledger's answer to the request now: a repeat must equal it.
    this.answers.set(id, line);
    this.outstanding = undefined;
    this.report.answered += 1;
    const match = OK_REPLY.exec(line);
    const wantsValue = request.operation.op === 'rand' || request.operation.op === 'time' ? request.operation.op : undefined;
    if (!match || match[3] !== wantsValue) {
      this.violation('unexpected', `"${line}" is not a well-formed reply to ${id} ${describe(request.operation)}`, {
        id,
        expected: `a reply to ${describe(request.operation)}`,
        seen: line,
      });
      return 'violation';
    }
    const total = Number(match[2]);
    const expected = this.acknowledged + (request.operation.op === 'add' ? request.operation.amount : 0);
    this.acknowledged = total;
    if (total !== expected) {
      this.violation(total < expected ? 'lost' : 'contradicted', `${line}: total ${total}, acknowledged adds sum to ${expected}`, {
        id,
        expected: `total ${expected}`,
        seen: line,
      });
      return 'violation';
    }
    return 'answer';
  }

  /**
   * Holds the ledger that serves the client to the history: every answered id
   * (or those in `ids`: the ones an audit through the protocol asked again)
   * stored with the answer the client saw, and the total acknowledged (an add
   * still outstanding may or may not have been applied). Returns what is wrong.
   */
  audit(ledger: LedgerContents, name = 'the serving ledger', ids: Iterable<string> = this.answers.keys()): string[] {
    this.report.audits += 1;
    const found: string[] = [];
    const differs = (detail: string, facts: { id?: string; expected: string; seen: string }) => {
      found.push(detail);
      this.violation('audit', detail, facts);
    };
    for (const id of ids) {
      const answer = this.answers.get(id) ?? '';
      const stored = ledger.storedReply(id);
      if (stored !== answer)
        differs(`${name} holds ${stored === undefined ? 'nothing' : `"${stored}"`} for ${id}; the client was shown "${answer}"`, {
          id,
          expected: answer,
          seen: stored ?? 'nothing',
        });
    }
    const pending = this.outstanding?.operation;
    const allowed = [this.acknowledged, ...(pending?.op === 'add' ? [this.acknowledged + pending.amount] : [])];
    if (!allowed.includes(ledger.total)) {
      differs(`${name}'s total is ${ledger.total}; acknowledged adds sum to ${this.acknowledged}`, {
        expected: `total ${this.acknowledged}`,
        seen: `total ${ledger.total}`,
      });
    }
    return found;
  }

  /** The violations so far, as recorded (not a copy): for a caller that looks after every step. */
  get violations(): readonly string[] {
    return this.report.violations;
  }

  summary(): HistoryReport {
    return { ...this.report, violations: [...this.report.violations], findings: [...this.report.findings] };
  }

  private violation(kind: ViolationKind, detail: string, facts: { id?: string; expected?: string; seen: string }): void {
    this.report[kind] += 1;
    if (this.report.violations.length >= VIOLATIONS_KEPT) return;
    const text = `${kind}: ${detail}`;
    this.report.violations.push(text);
    this.report.findings.push({ kind, ...facts, text });
  }
}
