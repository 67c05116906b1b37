// The client's bytes into a VM (ttyS1), by position in the client's stream.
// v86 keeps a serial port's unread input outside its saved state, so after a
// secondary loads a checkpoint its port must be refilled with what the primary
// had not yet read at capture: this log holds the recent stream to do that.

/** A serial port's receive side as v86's UART has it: unread bytes in `input`. */
export interface ReceivingPort {
  input: number[];
  data_received(byte: number): void;
}

export class ClientInputLog {
  private bytes: Uint8Array;
  private length = 0;
  /** Stream position of bytes[0]. */
  private start = 0;

  constructor(private readonly capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Stream position after the last byte logged. */
  get end(): number {
    return this.start + this.length;
  }

  /** `at`: the bytes' stream position; a gap or overlap starts the log afresh there. */
  append(data: Uint8Array, at = this.end): void {
    if (at !== this.end || data.length > this.capacity) {
      this.start = at + Math.max(0, data.length - this.capacity);
      this.length = 0;
      data = data.subarray(data.length - Math.min(data.length, this.capacity));
    }
    if (this.length + data.length > this.capacity) {
      // Keep the newest bytes; the oldest are long read by both VMs.
      const drop = this.length + data.length - this.capacity;
      this.bytes.copyWithin(0, drop, this.length);
      this.length -= drop;
      this.start += drop;
    }
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /**
   * After a load: `port` holds exactly the stream from `from` on. Whatever it
   * held before belonged to the state the load replaced, so it goes even when
   * the refill cannot be made (a leftover fragment there could complete a
   * half-read request of the new state into one the client never sent).
   * False when the log does not hold all those bytes.
   */
  refill(port: ReceivingPort, from: number): boolean {
    port.input.length = 0;
    const bytes = this.from(from);
    if (!bytes) return false;
    for (const byte of bytes) port.data_received(byte);
    return true;
  }

  /** The bytes from stream position `from` on, or undefined if the log no longer (or never) held them. */
  from(from: number): Uint8Array | undefined {
    if (from < this.start || from > this.end) return undefined;
    return this.bytes.slice(from - this.start, this.length);
  }
}
