// Output commit: the primary's client-visible output (ledger replies, one per
// line) is held until the secondary holds a checkpoint that covers it.
// A line belongs to the epoch in which its newline was written; epoch n is
// covered by checkpoint n (the first checkpoint captured after it).
// In compare mode (COLO's colo-compare) a line may leave earlier: when the
// secondary, running the same requests from checkpoint n-1, wrote the same
// line. Lines leave in order, so a matched line waits for any unmatched one
// before it.

export type CompareVerdict = 'match' | 'mismatch' | 'timeout';

export interface HeldLine {
  text: string;
  epoch: number;
  heldAt: number;
  verdict?: CompareVerdict;
}

/** A line the secondary wrote, waiting for the primary's line of the same id. */
export interface SecondaryLine {
  text: string;
  /** The checkpoint the secondary's run started from. */
  from: number;
  at: number;
  /** Already reported as overdue. */
  late?: boolean;
}

/** Replies are matched by their first word: the ledger's request id. */
const idOf = (line: string): string => line.split(' ', 1)[0] ?? '';

/** QEMU's colo-compare caps each queue at 1024 packets. */
const SVM_LINES_KEPT = 1024;

/**
 * Cuts a VM's output into lines. What it holds of an unfinished line belongs
 * to the VM's state: when the state is replaced, so is that start of a line.
 */
export class LineSplitter {
  constructor(private started = '') {}

  /** The output of the line not yet finished. */
  get lineStart(): string {
    return this.started;
  }

  push(text: string): string[] {
    const parts = (this.started + text).split('\n');
    this.started = parts.pop() ?? '';
    return parts.map((line) => line.replace(/\r$/, ''));
  }
}

export class OutputCommit {
  private readonly splitter: LineSplitter;
  private held: HeldLine[] = [];
  private direct = false;
  private svm: SecondaryLine[] = [];
  /** Newest checkpoint the secondary holds: a run from before it was rolled back. */
  private safe = 0;

  /**
   * `lineStart`: output of a line the VM had begun before this commit took
   * over; `carried`: lines a previous commit of the same VM still held (a
   * hand-over to a new secondary), held here until checkpoint 1 covers them.
   */
  constructor(lineStart = '', carried: readonly string[] = [], now = 0) {
    this.splitter = new LineSplitter(lineStart);
    this.held = carried.map((text) => ({ text, epoch: 1, heldAt: now }));
  }

  get lineStart(): string {
    return this.splitter.lineStart;
  }

  /** Takes raw output; returns the lines that may leave at once (after COLO ended, or unsafe). */
  append(text: string, epoch: number, now = 0): { held: HeldLine[]; released: string[] } {
    const lines = this.splitter.push(text);
    if (this.direct) return { held: [], released: lines };
    const held = lines.map((text): HeldLine => {
      const line: HeldLine = { text, epoch, heldAt: now };
      const theirs = this.takeStored(text, epoch);
      if (theirs) line.verdict = theirs.text === text ? 'match' : 'mismatch';
      return line;
    });
    this.held.push(...held);
    return { held, released: [] };
  }

  /**
   * A line the secondary wrote in its run from checkpoint `from`: compared with
   * the primary's held line of the same id from the epoch that run covers, or
   * kept for it. A run from before the newest checkpoint was rolled back by
   * its load, so what it wrote is dropped, as colo-compare drops the
   * secondary's queue at a checkpoint.
   */
  compare(text: string, from: number, now = 0): HeldLine | undefined {
    if (this.rolledBack(from)) return undefined;
    const mine = this.heldFor(text, from);
    if (mine) {
      mine.verdict = mine.text === text ? 'match' : 'mismatch';
      return mine;
    }
    this.svm.push({ text, from, at: now });
    if (this.svm.length > SVM_LINES_KEPT) this.svm.shift();
    return undefined;
  }

  /** Primary lines still without a verdict after `timeoutMs` get 'timeout'. */
  overdue(now: number, timeoutMs: number): HeldLine[] {
    const late = this.held.filter((l) => l.verdict === undefined && now - l.heldAt >= timeoutMs);
    for (const l of late) l.verdict = 'timeout';
    return late;
  }

  /** Secondary lines the primary has not matched within `timeoutMs`, each reported once (QEMU checks both queues). */
  overdueSecondary(now: number, timeoutMs: number): SecondaryLine[] {
    const late = this.svm.filter((l) => !l.late && now - l.at >= timeoutMs);
    for (const l of late) l.late = true;
    return late;
  }

  /** The held lines, from the oldest, that the secondary matched. */
  releaseMatched(): HeldLine[] {
    const index = this.held.findIndex((line) => line.verdict !== 'match');
    const out = index === -1 ? this.held : this.held.slice(0, index);
    this.held = index === -1 ? [] : this.held.slice(index);
    return out;
  }

  /** The secondary holds checkpoint `checkpoint` whole: lines of its epochs leave. */
  releaseUpTo(checkpoint: number): string[] {
    this.forgetRunsBefore(checkpoint);
    const index = this.held.findIndex((line) => line.epoch > checkpoint);
    const out = index === -1 ? this.held : this.held.slice(0, index);
    this.held = index === -1 ? [] : this.held.slice(index);
    return out.map((line) => line.text);
  }

  /** Replication is over, or output commit is off: what is held leaves, and later output is not held. */
  releaseAll(): string[] {
    this.direct = true;
    this.svm = [];
    const out = this.held.map((line) => line.text);
    this.held = [];
    return out;
  }

  /** Output commit back on: from now, lines are held again (a started line stays started). */
  hold(): void {
    this.direct = false;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** The lines held now, oldest first. */
  heldLines(): string[] {
    return this.held.map((line) => line.text);
  }

  /** The held primary line a secondary line from a run since checkpoint `from` is compared with. */
  private heldFor(text: string, from: number): HeldLine | undefined {
    return this.held.find((l) => l.verdict === undefined && idOf(l.text) === idOf(text) && vouchesFor(from, l.epoch));
  }

  /** Takes the stored secondary line a primary line of `epoch` is compared with. */
  private takeStored(text: string, epoch: number): SecondaryLine | undefined {
    const at = this.svm.findIndex((theirs) => idOf(theirs.text) === idOf(text) && vouchesFor(theirs.from, epoch));
    return at === -1 ? undefined : this.svm.splice(at, 1)[0];
  }

  /** The secondary holds `checkpoint`: its runs from before were rolled back by loads. */
  private forgetRunsBefore(checkpoint: number): void {
    this.safe = Math.max(this.safe, checkpoint);
    this.svm = this.svm.filter((l) => l.from >= this.safe);
  }

  private rolledBack(from: number): boolean {
    return from < this.safe;
  }
}

/** A secondary run from checkpoint `from` wrote what the primary writes in epoch from + 1, and nothing else. */
function vouchesFor(from: number, epoch: number): boolean {
  return from === epoch - 1;
}
