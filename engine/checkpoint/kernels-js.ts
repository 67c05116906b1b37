// The kernels of kernels.wat in plain JavaScript: the reference the
// WebAssembly versions are tested against, and the baseline they are measured
// against (`npm run bench:kernels`).
import { PAGE_BYTES } from './kernels.ts';

/** Same contract as the WebAssembly diff_pages, on one byte array (offsets in bytes). */
export function diffPagesJs(memory: Uint8Array, cur: number, shadow: number, pages: number, list: number, out: number): number {
  const words = new Int32Array(memory.buffer, memory.byteOffset, memory.byteLength >>> 2);
  const listWords = new Uint32Array(memory.buffer, memory.byteOffset + list, pages);
  const pageWords = PAGE_BYTES >>> 2;
  let count = 0;
  for (let page = 0; page < pages; page++) {
    const a = (cur >>> 2) + page * pageWords;
    const b = (shadow >>> 2) + page * pageWords;
    let i = 0;
    while (i < pageWords && words[a + i] === words[b + i]) i++;
    if (i === pageWords) continue;
    listWords[count] = page;
    memory.copyWithin(out + count * PAGE_BYTES, cur + page * PAGE_BYTES, cur + (page + 1) * PAGE_BYTES);
    memory.copyWithin(shadow + page * PAGE_BYTES, cur + page * PAGE_BYTES, cur + (page + 1) * PAGE_BYTES);
    count++;
  }
  return count;
}

/** Same contract as the WebAssembly diff_marked: diffPagesJs over the marked pages only; clears the marks. */
export function diffMarkedJs(memory: Uint8Array, cur: number, shadow: number, pages: number, marks: number, list: number, out: number): number {
  const listWords = new Uint32Array(memory.buffer, memory.byteOffset + list, pages);
  let count = 0;
  for (let page = 0; page < pages; page++) {
    if (memory[marks + page] === 0) continue;
    memory[marks + page] = 0;
    // One page through the full-scan reference, its result moved to slot `count`.
    const scratch = list + 4 * count;
    if (diffPagesJs(memory, cur + page * PAGE_BYTES, shadow + page * PAGE_BYTES, 1, scratch, out + count * PAGE_BYTES) === 1) {
      listWords[count] = page;
      count++;
    }
  }
  return count;
}

/** Same contract as the WebAssembly checksum: four 32-bit lanes, FNV-1a step per 16 bytes. */
export function checksumJs(memory: Uint8Array, ptr: number, len: number, state: number): void {
  const words = new Uint32Array(memory.buffer, memory.byteOffset, memory.byteLength >>> 2);
  const s = state >>> 2;
  let s0 = words[s] as number,
    s1 = words[s + 1] as number,
    s2 = words[s + 2] as number,
    s3 = words[s + 3] as number;
  for (let w = ptr >>> 2, end = (ptr + len) >>> 2; w < end; w += 4) {
    s0 = Math.imul(s0 ^ (words[w] as number), 0x01000193);
    s1 = Math.imul(s1 ^ (words[w + 1] as number), 0x01000193);
    s2 = Math.imul(s2 ^ (words[w + 2] as number), 0x01000193);
    s3 = Math.imul(s3 ^ (words[w + 3] as number), 0x01000193);
  }
  words[s] = s0;
  words[s + 1] = s1;
  words[s + 2] = s2;
  words[s + 3] = s3;
}
