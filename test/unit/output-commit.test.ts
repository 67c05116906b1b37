import { describe, expect, it } from 'vitest';
import { checksum32 } from '../../engine/protocol/checksum.ts';
import { OutputCommit } from '../../engine/protocol/output-commit.ts';

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

  it('after releaseAll lets output through at once', () => {
    const out = new OutputCommit();
    out.append('x ok 1\n', 1);
    expect(out.releaseAll()).toEqual(['x ok 1']);
    expect(out.append('y ok 2\n', 2)).toEqual({ held: [], released: ['y ok 2'] });
  });
});

describe('OutputCommit in compare mode', () => {
  it('releases a line once the secondary wrote the same, in order, whichever VM answered first', () => {
    const out = new OutputCommit();
    out.append('c1 ok 1\nc2 ok 3\n', 1, 0);
    // c2 matches first, but c1 is still open: nothing may overtake it.
    expect(out.compare('c2 ok 3')).toMatchObject({ text: 'c2 ok 3', verdict: 'match' });
    expect(out.releaseMatched()).toEqual([]);
    expect(out.compare('c1 ok 1')).toMatchObject({ verdict: 'match' });
    expect(out.releaseMatched().map((l) => l.text)).toEqual(['c1 ok 1', 'c2 ok 3']);
    // The secondary's reply may come before the primary's.
    expect(out.compare('c3 ok 6')).toBeUndefined();
    expect(out.append('c3 ok 6\n', 1, 5).held[0]?.verdict).toBe('match');
    expect(out.releaseMatched().map((l) => l.text)).toEqual(['c3 ok 6']);
  });

  it('marks a different reply a mismatch and a missing one a timeout; those wait for a checkpoint', () => {
    const out = new OutputCommit();
    out.append('c1 ok 1 rand=7\nc2 ok 1\n', 1, 0);
    expect(out.compare('c1 ok 1 rand=9')).toMatchObject({ verdict: 'mismatch' });
    expect(out.overdue(2999, 3000)).toEqual([]);
    expect(out.overdue(3000, 3000)).toMatchObject([{ text: 'c2 ok 1', verdict: 'timeout' }]);
    expect(out.releaseMatched()).toEqual([]);
    expect(out.releaseUpTo(1)).toEqual(['c1 ok 1 rand=7', 'c2 ok 1']);
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
