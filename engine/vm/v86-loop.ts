// Stopping v86 without waiting for its next tick. v86 (src/main.js) runs the
// CPU in ticks and only notices a stop request at the next one: for a halted
// (idle) guest whenever its next timer is due, and even when woken at once
// only after a round trip through the timer worker it schedules ticks with
// (~0.5 ms in a browser worker, all of it inside the checkpoint pause).
// Between ticks no guest code runs, so the stopping tick can run right here.
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
