// Virtual time for the seeded simulation: a Clock whose timers fire only when
// the simulation advances, in time order (ties in the order they were set),
// deterministically.
import type { Clock } from '../../engine/replication/ports.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

const earlier = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class SimScheduler implements Clock {
  private time = 1_000_000;
  private seq = 0;
  /** A binary min-heap by (at, seq); cancelled timers leave it when they reach the top. */
  private readonly heap: Timer[] = [];

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    return this.add({ at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false });
  }

  every(ms: number, fn: () => void): () => void {
    return this.add({ at: this.time + ms, seq: this.seq++, fn, every: Math.max(1, ms), cancelled: false });
  }

  /** Runs timers in order until `until`, calling `afterStep` after each one (and its microtasks). */
  async run(until: number, afterStep: () => void): Promise<number> {
    let steps = 0;
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > until) break;
      this.pop();
      if (next.cancelled) continue;
      this.time = next.at;
      if (next.every) {
        next.at += next.every;
        next.seq = this.seq++;
        this.push(next);
      } else {
        next.cancelled = true;
      }
      next.fn();
      await settle();
      afterStep();
      steps++;
    }
    this.time = until;
    return steps;
  }

  private add(timer: Timer): () => void {
    this.push(timer);
    return () => (timer.cancelled = true);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(timer, heap[parent] as Timer)) break;
      heap[i] = heap[parent] as Timer;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as Timer;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && earlier(heap[right] as Timer, heap[left] as Timer) ? right : left;
      if (!earlier(heap[child] as Timer, last)) break;
      heap[i] = heap[child] as Timer;
      i = child;
    }
    heap[i] = last;
  }
}

/** Lets every queued promise continuation run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** mulberry32: a small, fast, seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
