// Output commit: the primary's client-visible output (ledger replies, one per
// line) is held until the secondary holds a checkpoint that covers it.
// A line belongs to the epoch in which its newline was written; epoch n is
// covered by checkpoint n (the first checkpoint captured after it).
// In compare mode (COLO's colo-compare) a line may leave earlier: when the
// secondary, running the same requests, wrote the same line. Lines leave in
// order, so a matched line waits for any unmatched one before it.

export type CompareVerdict = 'match' | 'mismatch' | 'timeout';

export interface HeldLine {
  text: string;
  epoch: number;
  heldAt: number;
  verdict?: CompareVerdict;
}

/** Replies are matched by their first word: the ledger's request id. */
const idOf = (line: string): string => line.split(' ', 1)[0] ?? '';

const SVM_LINES_KEPT = 1000;

export class OutputCommit {
  private partial = '';
  private held: HeldLine[] = [];
  private direct = false;
  /** The secondary's latest line per id, waiting for the primary's. */
  private readonly svm = new Map<string, string>();

  /** Takes raw output; returns the lines that may leave at once (after COLO ended). */
  append(text: string, epoch: number, now = 0): { held: HeldLine[]; released: string[] } {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    const lines = parts.map((line) => line.replace(/\r$/, ''));
    if (this.direct) return { held: [], released: lines };
    const held = lines.map((line): HeldLine => {
      const theirs = this.svm.get(idOf(line));
      if (theirs === undefined) return { text: line, epoch, heldAt: now };
      this.svm.delete(idOf(line));
      return { text: line, epoch, heldAt: now, verdict: theirs === line ? 'match' : 'mismatch' };
    });
    this.held.push(...held);
    return { held, released: [] };
  }

  /** A line the secondary wrote: compared with the primary's held line of the same id, or kept for it. */
  compare(line: string): HeldLine | undefined {
    const mine = this.held.find((l) => l.verdict === undefined && idOf(l.text) === idOf(line));
    if (mine) {
      mine.verdict = mine.text === line ? 'match' : 'mismatch';
      return mine;
    }
    this.svm.set(idOf(line), line);
    if (this.svm.size > SVM_LINES_KEPT) this.svm.delete(this.svm.keys().next().value as string);
    return undefined;
  }

  /** Lines still without a verdict after `timeoutMs` get 'timeout'. */
  overdue(now: number, timeoutMs: number): HeldLine[] {
    const late = this.held.filter((l) => l.verdict === undefined && now - l.heldAt >= timeoutMs);
    for (const l of late) l.verdict = 'timeout';
    return late;
  }

  /** The held lines, from the oldest, that the secondary matched. */
  releaseMatched(): HeldLine[] {
    const index = this.held.findIndex((line) => line.verdict !== 'match');
    const out = index === -1 ? this.held : this.held.slice(0, index);
    this.held = index === -1 ? [] : this.held.slice(index);
    return out;
  }

  releaseUpTo(checkpoint: number): string[] {
    const index = this.held.findIndex((line) => line.epoch > checkpoint);
    const out = index === -1 ? this.held : this.held.slice(0, index);
    this.held = index === -1 ? [] : this.held.slice(index);
    return out.map((line) => line.text);
  }

  /** Replication is over: what is held leaves, and later output is not held. */
  releaseAll(): string[] {
    this.direct = true;
    const out = this.held.map((line) => line.text);
    this.held = [];
    return out;
  }

  get heldCount(): number {
    return this.held.length;
  }
}
