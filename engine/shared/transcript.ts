// What a guest wrote to one serial port, with positions that stay valid while
// the oldest text is dropped, so a VM that runs for hours keeps a bounded copy.

const KEEP_CHARS = 128 * 1024;
const TRIM_AT_CHARS = 2 * KEEP_CHARS;

export class Transcript {
  private text = '';
  private dropped = 0;

  append(text: string): void {
    this.text += text;
    if (this.text.length > TRIM_AT_CHARS) {
      const cut = this.text.length - KEEP_CHARS;
      this.text = this.text.slice(cut);
      this.dropped += cut;
    }
  }

  /** Position just after everything written so far. */
  get end(): number {
    return this.dropped + this.text.length;
  }

  /** The retained text (the most recent output). */
  get retained(): string {
    return this.text;
  }

  /** Position of `needle` at or after `from`, or -1. */
  indexOf(needle: string, from: number): number {
    const at = this.text.indexOf(needle, Math.max(0, from - this.dropped));
    return at === -1 ? -1 : at + this.dropped;
  }

  slice(from: number, to = this.end): string {
    return this.text.slice(Math.max(0, from - this.dropped), Math.max(0, to - this.dropped));
  }
}
