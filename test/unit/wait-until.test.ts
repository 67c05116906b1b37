// A wait with a deadline leaves nothing behind, whichever way it ends; listeners
// are called in order, each call reaching those present when it began.
import { describe, expect, it } from 'vitest';
import { Listeners } from '../../engine/shared/listeners.ts';
import { waitUntil } from '../../engine/shared/wait-until.ts';

/** A clock whose timers fire only when told. */
function manualTimer() {
  const timers = new Set<() => void>();
  return {
    timers,
    after(_ms: number, fire: () => void) {
      timers.add(fire);
      return () => void timers.delete(fire);
    },
    fireAll() {
      for (const fire of [...timers]) {
        timers.delete(fire);
        fire();
      }
    },
  };
}

describe('waitUntil', () => {
  it('resolves at once when the condition already holds, starting nothing', async () => {
    const changes = new Listeners();
    const clock = manualTimer();
    await waitUntil(
      () => true,
      (check) => changes.add(check),
      clock,
      100,
      () => new Error('late'),
    );
    expect(clock.timers.size).toBe(0);
  });

  it('resolves on the change that makes it hold, and stops watching and cancels its deadline', async () => {
    const changes = new Listeners();
    const clock = manualTimer();
    let watching = 0;
    let ready = false;
    const waiting = waitUntil(
      () => ready,
      (check) => {
        watching++;
        const stop = changes.add(check);
        return () => (watching--, stop());
      },
      clock,
      100,
      () => new Error('late'),
    );
    changes.emit();
    ready = true;
    changes.emit();
    await waiting;
    expect(watching).toBe(0);
    expect(clock.timers.size).toBe(0);
  });

  it('rejects with its own error at the deadline and stops watching', async () => {
    const changes = new Listeners();
    const clock = manualTimer();
    let stopped = false;
    const waiting = waitUntil(
      () => false,
      (check) => {
        const stop = changes.add(check);
        return () => ((stopped = true), stop());
      },
      clock,
      100,
      () => new Error('not ready within 100 ms'),
    );
    clock.fireAll();
    await expect(waiting).rejects.toThrow('not ready within 100 ms');
    expect(stopped).toBe(true);
  });
});

describe('Listeners', () => {
  it('calls those present when a call began, in the order they came', () => {
    const listeners = new Listeners<[n: number]>();
    const calls: string[] = [];
    const removeB = listeners.add((n) => calls.push(`b${n}`));
    listeners.add((n) => {
      calls.push(`a${n}`);
      removeB();
      listeners.add((m) => calls.push(`c${m}`));
    });
    listeners.emit(1);
    listeners.emit(2);
    expect(calls).toEqual(['b1', 'a1', 'a2', 'c2']);
  });
});
