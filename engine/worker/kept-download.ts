// One download that any number of readers read from its first byte, as it
// arrives: the page's PCs unpack the snapshot while it is still downloading,
// each in its own worker, and a spare that starts later reads the bytes kept.

export class KeptDownload {
  private readonly pieces: Uint8Array<ArrayBuffer>[] = [];
  private complete = false;
  private failure: Error | undefined;
  private readonly waiting = new Set<() => void>();

  /** Starts downloading `url` now. */
  constructor(url: string) {
    void this.download(url);
  }

  private async download(url: string): Promise<void> {
    try {
      const response = await fetch(url);
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} from ${url}`);
      const reader = response.body.getReader();
      for (let piece = await reader.read(); !piece.done; piece = await reader.read()) {
        this.pieces.push(piece.value);
        this.wake();
      }
      this.complete = true;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
    this.wake();
  }

  private wake(): void {
    for (const resume of this.waiting) resume();
    this.waiting.clear();
  }

  /** Every byte from the first, as it arrives: a stream that can move to a worker. It errors if the download fails. */
  stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    let next = 0;
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        while (next === this.pieces.length && !this.complete && !this.failure) await new Promise<void>((resume) => this.waiting.add(resume));
        if (next < this.pieces.length) {
          // Every piece arrived so far, in one copy: a stream moved to a worker crosses to it a piece at a
          // time, each at the worker's request (a fetch's pieces are 64 KiB or less), and every reader needs the pieces kept.
          const ready = this.pieces.slice(next);
          next = this.pieces.length;
          const joined = new Uint8Array(ready.reduce((n, piece) => n + piece.byteLength, 0));
          let at = 0;
          for (const piece of ready) {
            joined.set(piece, at);
            at += piece.byteLength;
          }
          controller.enqueue(joined);
        } else if (this.failure) controller.error(this.failure);
        else controller.close();
      },
    });
  }
}
