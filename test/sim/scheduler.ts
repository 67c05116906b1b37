// Virtual time for the seeded simulation: a Clock whose timers fire only when
// the simulation advances, in time order, deterministically.
import type { Clock } from '../../engine/replication/ports.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

export class SimScheduler implements Clock {
  private time = 1_000_000;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return () => (timer.cancelled = true);
  }

  every(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.time + ms, seq: this.seq++, fn, every: Math.max(1, ms), cancelled: false };
    this.timers.push(timer);
    return () => (timer.cancelled = true);
  }

  /** Runs timers in order until `until`, calling `afterStep` after each one (and its microtasks). */
  async run(until: number, afterStep: () => void): Promise<number> {
    let steps = 0;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: Timer | undefined;
      for (const t of this.timers) if (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
      if (!next || next.at > until) break;
      this.time = next.at;
      if (next.every) {
        next.at += next.every;
        next.seq = this.seq++;
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
