// The small ports the replication drivers run against: a clock, the channel to
// the peer, and the VM. Workers plug in the real ones; tests plug in fakes.
import type { SerialPort } from '../vm/machine-api.ts';

export interface Clock {
  /** Milliseconds since the epoch, comparable across workers. */
  now(): number;
  every(ms: number, fn: () => void): () => void;
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  every(ms, fn) {
    const id = setInterval(fn, ms);
    return () => clearInterval(id);
  },
  after(ms, fn) {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
};

/**
 * One end of a MessageChannel (browser or Node). 'close' fires when the other
 * end is gone (Node: its worker ended; Chromium does not fire it yet).
 */
export interface PeerPort {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'close', listener: () => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'close', listener: () => void): void;
  start(): void;
  close(): void;
}

/** What replication needs from the VM it protects. */
export interface ReplicatedVm {
  run(): Promise<void>;
  stop(): Promise<void>;
  saveState(): Promise<ArrayBuffer>;
  restoreState(state: ArrayBuffer): Promise<void>;
  /** Stream position up to which the guest has read its client's input. */
  clientInputConsumed(): number;
  /**
   * After a load: the client port holds the stream from `from` on, as the
   * primary's did at capture. False if those bytes are not all known here; the
   * port is then empty, never left holding what it had before the load.
   */
  replayClientInput(from: number): boolean;
  /** Local subscription to a serial port's output (ttyS1 is the client's). */
  onSerialOutput(port: SerialPort, listener: (text: string) => void): () => void;
}
