import { describe, expect, it } from 'vitest';
import { checksum32 } from '../../engine/protocol/checksum.ts';
import { LineSplitter, OutputCommit } from '../../engine/protocol/output-commit.ts';

describe('OutputCommit', () => {
  it('holds each line in the epoch of its newline and releases epochs in order', () => {
    const out = new OutputCommit();
    expect(out.append('a1 ok 1\na2 o', 1, 10)).toEqual({ held: [{ text: 'a1 ok 1', epoch: 1, heldAt: 10 }], released: [] });
    // The second line was begun in epoch 1 but finished in epoch 2.
    expect(out.append('k 3\r\n', 2, 20).held).toEqual([{ text: 'a2 ok 3', epoch: 2, heldAt: 20 }]);
    expect(out.releaseUpTo(1)).toEqual(['a1 ok 1']);
    expect(out.heldCount).toBe(1);
    expect(out.releaseUpTo(1)).toEqual([]);
    expect(out.releaseUpTo(2)).toEqual(['a2 ok 3']);
  });

  it('holds the lines a previous commit carried over (a hand-over) until checkpoint 1 covers them, before its own', () => {
    const commit = new OutputCommit('', ['c1 ok 1', 'c2 ok 3'], 0);
    expect(commit.heldLines()).toEqual(['c1 ok 1', 'c2 ok 3']);
    expect(commit.append('c3 ok 6\n', 2).held.map((l) => l.text)).toEqual(['c3 ok 6']);
    expect(commit.releaseUpTo(0)).toEqual([]);
    expect(commit.releaseUpTo(1)).toEqual(['c1 ok 1', 'c2 ok 3']);
    expect(commit.releaseUpTo(2)).toEqual(['c3 ok 6']);
  });

  it('after releaseAll lets output through at once', () => {
    const out = new OutputCommit();
    out.append('x ok 1\n', 1);
    expect(out.releaseAll()).toEqual(['x ok 1']);
    expect(out.append('y ok 2\n', 2)).toEqual({ held: [], released: ['y ok 2'] });
  });
});

describe('OutputCommit in compare mode', () => {
  // Lines of epoch 2 were written after checkpoint 1: a secondary run from checkpoint 1 vouches for them.
  it('releases a line once the secondary wrote the same, in order, whichever VM answered first', () => {
    const out = new OutputCommit();
    out.append('c1 ok 1\nc2 ok 3\n', 2, 0);
    // c2 matches first, but c1 is still open: nothing may overtake it.
    expect(out.compare('c2 ok 3', 1)).toMatchObject({ text: 'c2 ok 3', verdict: 'match' });
    expect(out.releaseMatched()).toEqual([]);
    expect(out.compare('c1 ok 1', 1)).toMatchObject({ verdict: 'match' });
    expect(out.releaseMatched().map((l) => l.text)).toEqual(['c1 ok 1', 'c2 ok 3']);
    // The secondary's reply may come before the primary's.
    expect(out.compare('c3 ok 6', 1)).toBeUndefined();
    expect(out.append('c3 ok 6\n', 2, 5).held[0]?.verdict).toBe('match');
    expect(out.releaseMatched().map((l) => l.text)).toEqual(['c3 ok 6']);
  });

  it('marks a different reply a mismatch and a missing one a timeout; those wait for a checkpoint', () => {
    const out = new OutputCommit();
    out.append('c1 ok 1 rand=7\nc2 ok 1\n', 2, 0);
    expect(out.compare('c1 ok 1 rand=9', 1)).toMatchObject({ verdict: 'mismatch' });
    expect(out.overdue(2999, 3000)).toEqual([]);
    expect(out.overdue(3000, 3000)).toMatchObject([{ text: 'c2 ok 1', verdict: 'timeout' }]);
    expect(out.releaseMatched()).toEqual([]);
    expect(out.releaseUpTo(2)).toEqual(['c1 ok 1 rand=7', 'c2 ok 1']);
  });

  // Speculative mode: the primary runs on after capturing checkpoint 2, so it
  // writes epoch-3 lines while the secondary still runs from checkpoint 1. That
  // run is rolled back by the load of checkpoint 2; only a run from 2 vouches.
  it('matches a line only with a secondary run from the checkpoint that opened its epoch', () => {
    const out = new OutputCommit();
    out.append('c7 ok 9 time=100\n', 3, 0);
    expect(out.compare('c7 ok 9 time=100', 1)).toBeUndefined();
    expect(out.releaseMatched()).toEqual([]);
    expect(out.compare('c7 ok 9 time=101', 2)).toMatchObject({ verdict: 'mismatch' });
    // And the other way round: a stored secondary line waits for the epoch it vouches for.
    out.compare('c8 ok 9', 2);
    expect(out.append('c8 ok 9\n', 4, 1).held[0]?.verdict).toBeUndefined();
  });

  it('drops what the secondary wrote before the checkpoint it now holds, as colo-compare drops its queue', () => {
    const out = new OutputCommit();
    out.compare('c4 ok 2', 1, 0);
    out.releaseUpTo(2);
    // A later line of the secondary's rolled-back run counts for nothing either.
    expect(out.compare('c5 ok 2', 1, 0)).toBeUndefined();
    expect(out.append('c4 ok 2\nc5 ok 2\n', 2, 0).held.map((l) => l.verdict)).toEqual([undefined, undefined]);
    expect(out.overdueSecondary(10_000, 3000)).toEqual([]);
  });

  it('times out a secondary line the primary never wrote, once', () => {
    const out = new OutputCommit();
    out.compare('c9 ok 1', 1, 100);
    expect(out.overdueSecondary(3099, 3000)).toEqual([]);
    expect(out.overdueSecondary(3100, 3000)).toMatchObject([{ text: 'c9 ok 1', from: 1 }]);
    expect(out.overdueSecondary(9000, 3000)).toEqual([]);
  });
});

describe('LineSplitter', () => {
  it('keeps a started line until its newline, and can start from a line another VM began', () => {
    const split = new LineSplitter('c38 ok 15');
    expect(split.push('4\r\nc39 o')).toEqual(['c38 ok 154']);
    expect(split.lineStart).toBe('c39 o');
  });
});

describe('OutputCommit switched between hold and unsafe', () => {
  it('keeps a started line and what it holds when output commit is switched', () => {
    const out = new OutputCommit('c1 o');
    expect(out.append('k 1\nc2 ok', 1).held.map((l) => l.text)).toEqual(['c1 ok 1']);
    expect(out.releaseAll()).toEqual(['c1 ok 1']);
    out.hold();
    expect(out.append(' 3\n', 1).held.map((l) => l.text)).toEqual(['c2 ok 3']);
  });
});

describe('checksum32', () => {
  it('changes with any flipped bit, with the tail bytes and with the length', () => {
    const a = new Uint8Array(1027).map((_, i) => i * 7);
    const base = checksum32(a.buffer);
    const flipped = a.slice();
    flipped[500] = (flipped[500] ?? 0) ^ 1;
    const tail = a.slice();
    tail[1026] = (tail[1026] ?? 0) ^ 1;
    expect(checksum32(flipped.buffer)).not.toBe(base);
    expect(checksum32(tail.buffer)).not.toBe(base);
    expect(checksum32(a.slice(0, 1026).buffer)).not.toBe(base);
    expect(checksum32(a.slice().buffer)).toBe(base);
  });
});
