// Output commit: the primary's client-visible output (ledger replies, one per
// line) is held until the secondary holds a checkpoint that covers it.
// A line belongs to the epoch in which its newline was written; epoch n is
// covered by checkpoint n (the first checkpoint captured after it).

export interface HeldLine {
  text: string;
  epoch: number;
}

export class OutputCommit {
  private partial = '';
  private held: HeldLine[] = [];
  private direct = false;

  /** Takes raw output; returns the lines that may leave at once (after COLO ended). */
  append(text: string, epoch: number): { held: HeldLine[]; released: string[] } {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    const lines = parts.map((line) => line.replace(/\r$/, ''));
    if (this.direct) return { held: [], released: lines };
    const held = lines.map((line) => ({ text: line, epoch }));
    this.held.push(...held);
    return { held, released: [] };
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
