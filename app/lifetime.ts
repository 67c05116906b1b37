// What a view starts that outlives a call (timers, animation frames,
// subscriptions), owned in one place, so that when the view goes all of it
// goes with it.

export class Lifetime {
  private readonly stops = new Set<() => void>();

  /** `fn` every `ms`, until the end. */
  every(ms: number, fn: () => void): void {
    const id = setInterval(fn, ms);
    this.own(() => clearInterval(id));
  }

  /** `fn` once after `ms`, unless the end comes first. */
  after(ms: number, fn: () => void): void {
    const stop = this.own(() => clearTimeout(id));
    const id = setTimeout(() => {
      this.stops.delete(stop);
      fn();
    }, ms);
  }

  /** `fn` at every animation frame, until the end. */
  frames(fn: () => void): void {
    let id = 0;
    const frame = () => {
      fn();
      id = requestAnimationFrame(frame);
    };
    id = requestAnimationFrame(frame);
    this.own(() => cancelAnimationFrame(id));
  }

  /** A subscription (or anything) to end with the rest; returns it. */
  own(stop: () => void): () => void {
    this.stops.add(stop);
    return stop;
  }

  /** How many things are still owned (for the tests that count them). */
  get size(): number {
    return this.stops.size;
  }

  end(): void {
    for (const stop of [...this.stops]) stop();
    this.stops.clear();
  }
}
