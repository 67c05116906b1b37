// A wait that always ends: it resolves once `holds()` is true, checked now and
// after every change `watch` reports, or rejects with `timedOut()` once
// `timeoutMs` of the given clock has passed. Either way it stops watching and
// cancels its timer, so nothing it started outlives it.

/** Reports every change to `check`; returns how to stop. */
export type Watch = (check: () => void) => () => unknown;

/** The part of a clock a deadline needs: a timer that can be cancelled. */
export interface Timer {
  after(ms: number, fire: () => void): () => void;
}

export function waitUntil(holds: () => boolean, watch: Watch, clock: Timer, timeoutMs: number, timedOut: () => Error): Promise<void> {
  if (holds()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stop = watch(() => {
      if (!holds()) return;
      stop();
      cancel();
      resolve();
    });
    const cancel = clock.after(timeoutMs, () => {
      stop();
      reject(timedOut());
    });
  });
}
