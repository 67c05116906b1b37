// v86's main loop (src/main.js) runs the CPU in ticks; after each, yield(t)
// schedules the next one t ms later. Two changes to it:
// - Stopping without waiting for the next tick. v86 only notices a stop
//   request at the next one: for a halted (idle) guest whenever its next timer
//   is due, and even when woken at once only after a round trip through the
//   timer worker it schedules ticks with (~0.5 ms in a browser worker, all of
//   it inside the checkpoint pause). Between ticks no guest code runs, so the
//   stopping tick can run right here.
// - Idling without spinning. A halted guest makes t the time to its next timer
//   event, often a fraction of a millisecond, and for any t < 1 v86 runs the
//   next tick at once (setImmediate under Node, an immediate message from its
//   timer worker in a browser): an idle guest ran some 60 000 ticks a second,
//   36 % of a core under Node (20 % with the wait below). Waiting 1 ms instead
//   lets a timer fire at most a millisecond late, which the guest's clock does
//   not see (its timers catch up). What needs the CPU at once (serial input, a
//   disk reply) wakes it through v86's own idle callback, and a busy guest gets
//   t = 0, its next tick at once, as before.
import type { V86 } from 'v86';

/** v86's main loop internals (absent from v86.d.ts): a tick runs a slice of the CPU, then schedules the next. */
export interface V86Loop {
  next_tick?: (delayMs: number) => void;
  do_tick?: () => void;
  /** v86 runs a scheduled tick only if it is still the one numbered last. */
  tick_counter?: number;
  /** True between ticks, false while one runs (a stop asked from inside a tick must wait for it). */
  idle?: boolean;
  stopping?: boolean;
  /** Schedules the tick numbered `tick` in `delayMs`. */
  yield?: (delayMs: number, tick: number) => void;
}

const idling = new WeakSet<object>();

/** Makes a halted guest wait at least 1 ms for its next timer (see above); says why not, if this v86 lacks its main loop's yield. */
export function idleWithoutSpinning(vm: V86): string | undefined {
  const loop = (vm as unknown as { v86?: V86Loop }).v86;
  const schedule = loop?.yield;
  if (!loop || typeof schedule !== 'function') return 'v86 has no v86.yield';
  if (idling.has(loop)) return undefined;
  loop.yield = function (this: unknown, delayMs: number, tick: number) {
    schedule.call(this, delayMs > 0 && delayMs < 1 ? 1 : delayMs, tick);
  };
  idling.add(loop);
  return undefined;
}

/** Resolves once the VM is stopped; between ticks it stops before this returns its promise. */
export async function stopPromptly(vm: V86): Promise<void> {
  const stopped = vm.stop();
  const loop = (vm as unknown as { v86?: V86Loop }).v86;
  if (loop?.idle === true && loop.stopping === true && typeof loop.tick_counter === 'number' && typeof loop.do_tick === 'function') {
    // Drop the scheduled tick and run the stopping one now.
    loop.tick_counter++;
    loop.do_tick();
  } else {
    // Inside a tick (or an unknown v86): wake a halted guest so the stop comes at the end of this one.
    loop?.next_tick?.(0);
  }
  await stopped;
}
