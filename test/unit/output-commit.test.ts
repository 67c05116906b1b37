import { describe, expect, it } from 'vitest';
import { checksum32 } from '../../engine/protocol/checksum.ts';
import { OutputCommit } from '../../engine/protocol/output-commit.ts';

describe('OutputCommit', () => {
  it('holds each line in the epoch of its newline and releases epochs in order', () => {
    const out = new OutputCommit();
    expect(out.append('a1 ok 1\na2 o', 1)).toEqual({ held: [{ text: 'a1 ok 1', epoch: 1 }], released: [] });
    // The second line was begun in epoch 1 but finished in epoch 2.
    expect(out.append('k 3\r\n', 2).held).toEqual([{ text: 'a2 ok 3', epoch: 2 }]);
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
