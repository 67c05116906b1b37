// Waiting on virtual time: a call into a simulated PC resolves only as the
// scheduler runs, so never await one without running it (`until`, `settled`).
import type { SimScheduler } from './scheduler.ts';

/** Runs virtual time on until `done` holds (checked after every step), or fails after `limitMs`. */
export async function until(scheduler: SimScheduler, done: () => boolean, limitMs: number, what: string): Promise<void> {
  const end = scheduler.now() + limitMs;
  while (!done()) {
    if (scheduler.now() >= end) throw new Error(`not ${what} within ${limitMs} ms`);
    await scheduler.run(scheduler.now() + 1, () => {});
  }
}

/** Runs `call` to its end, with virtual time running meanwhile. */
export async function settled<T>(scheduler: SimScheduler, call: Promise<T>, limitMs = 1000): Promise<T> {
  let done = false;
  const result = call.finally(() => (done = true));
  await until(scheduler, () => done, limitMs, 'answered');
  return result;
}
