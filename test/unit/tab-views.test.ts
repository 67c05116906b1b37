// Two small pieces of the page, as functions of what they are given: the
// line that says what the serving PC runs, and what a tab does as it leaves.
import { describe, expect, it } from 'vitest';
import { leaveWithThePage } from '../../app/tabs/page-lifecycle.ts';
import { runningSettingsLine } from '../../app/views/running-settings.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';

describe('the settings the serving PC runs', () => {
  const running = {
    periodMs: 1000,
    mode: 'strict' as const,
    outputCommit: 'hold' as const,
    compare: DEFAULT_REPLICATION.compare,
    gate: DEFAULT_REPLICATION.gate,
  };

  it("are the PC's own word, and say what it is still to take of what was asked", () => {
    expect(runningSettingsLine('PC A', running, DEFAULT_REPLICATION)).toBe(
      'PC A runs strict checkpoints every 1.00 s, replies held until a checkpoint covers them.',
    );
    expect(runningSettingsLine('PC B', { ...running, outputCommit: 'unsafe' }, DEFAULT_REPLICATION)).toBe(
      'PC B runs strict checkpoints every 1.00 s, replies released at once (unsafe); it is still to take: strict checkpoints every 1.00 s, replies held until a checkpoint covers them.',
    );
    expect(runningSettingsLine('PC C', undefined, DEFAULT_REPLICATION)).toBe('PC C has not reported its settings yet.');
  });
});

describe('a tab that leaves', () => {
  const page = () => {
    const target = new EventTarget();
    const did: string[] = [];
    const stop = leaveWithThePage(target, { endPcs: () => did.push('end PCs'), sayGoodbye: () => did.push('bye'), reload: () => did.push('reload') });
    const fire = (type: string, persisted: boolean) => target.dispatchEvent(Object.assign(new Event(type), { persisted }));
    return { did, fire, stop };
  };

  // A page kept in the back-forward cache is frozen with its workers: were they
  // left to run when it came back, a primary the host has replaced would speak again.
  it('ends its PCs whether it closes or is cached, and loads afresh when it comes back from the cache', () => {
    const closed = page();
    closed.fire('pagehide', false);
    expect(closed.did).toEqual(['end PCs', 'bye']);

    const cached = page();
    cached.fire('pagehide', true);
    cached.fire('pageshow', true);
    expect(cached.did).toEqual(['end PCs', 'bye', 'reload']);

    const first = page();
    first.fire('pageshow', false);
    expect(first.did).toEqual([]);
    first.stop();
    first.fire('pagehide', false);
    expect(first.did).toEqual([]);
  });
});
