// Copying over a zero region and clearing one, page by page, skipping pages that are zero already.
import { describe, expect, it } from 'vitest';
import { PAGE_BYTES } from '../../engine/checkpoint/kernels.ts';
import { copyOverZeros, nonZeroPages, zeroSparse } from '../../engine/checkpoint/sparse-pages.ts';

describe('sparse pages', () => {
  it('copy every non-zero page over a zero region, and clear a region back to zeros', () => {
    const pages = 6;
    const memory = new Uint8Array(2 * pages * PAGE_BYTES);
    const from = 0;
    const to = pages * PAGE_BYTES;
    // Page 1 non-zero at its start, page 4 only at its very last byte; the rest zero.
    memory[from + PAGE_BYTES] = 7;
    memory[from + 5 * PAGE_BYTES - 1] = 9;
    copyOverZeros(memory, from, to, pages * PAGE_BYTES);
    expect(memory.subarray(to, to + pages * PAGE_BYTES)).toEqual(memory.subarray(from, from + pages * PAGE_BYTES));
    zeroSparse(memory, from, pages * PAGE_BYTES);
    expect(memory.subarray(from, from + pages * PAGE_BYTES).every((b) => b === 0)).toBe(true);
    expect(memory[to + 5 * PAGE_BYTES - 1]).toBe(9);
  });

  it('names the pages that are not all zeros, also in a view that does not start its buffer', () => {
    const buffer = new Uint8Array(5 * PAGE_BYTES);
    buffer[PAGE_BYTES] = 1; // page 0 of the view below
    buffer[4 * PAGE_BYTES - 1] = 2; // its page 2, last byte
    expect(nonZeroPages(buffer.subarray(PAGE_BYTES, 5 * PAGE_BYTES))).toEqual([0, 2]);
    expect(nonZeroPages(new Uint8Array(2 * PAGE_BYTES))).toEqual([]);
  });
});
