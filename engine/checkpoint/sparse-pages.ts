// Copying and clearing RAM-sized regions without touching their zero pages.
// A page of WebAssembly memory that was never written costs no resident
// memory; copying or filling all of it, zeros included, makes every page
// resident. Guest RAM is mostly zero pages (a booted guest: 27 MB of 84), so
// the shadows keep only what is really there.
import { PAGE_BYTES } from './kernels.ts';

const PAGE_WORDS = PAGE_BYTES / 4;

function isZeroPage(words: Int32Array, page: number): boolean {
  for (let i = page * PAGE_WORDS, end = i + PAGE_WORDS; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/** Copies `bytes` from `from` to `to` (page-aligned offsets in `memory`), where every page of `to` is zero already: its zero pages stay untouched. */
export function copyOverZeros(memory: Uint8Array, from: number, to: number, bytes: number): void {
  const words = new Int32Array(memory.buffer);
  for (let at = 0; at < bytes; at += PAGE_BYTES) {
    if (!isZeroPage(words, (from + at) / PAGE_BYTES)) memory.copyWithin(to + at, from + at, from + at + PAGE_BYTES);
  }
}

/** Zeroes `bytes` at `at` (page-aligned), writing only the pages that are not zero already. */
export function zeroSparse(memory: Uint8Array, at: number, bytes: number): void {
  const words = new Int32Array(memory.buffer);
  for (let page = at; page < at + bytes; page += PAGE_BYTES) {
    if (!isZeroPage(words, page / PAGE_BYTES)) memory.fill(0, page, page + PAGE_BYTES);
  }
}

/** The pages of `bytes` (4-byte aligned, whole pages) that are not all zeros, ascending. */
export function nonZeroPages(bytes: Uint8Array): number[] {
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const pages: number[] = [];
  for (let page = 0; page < bytes.byteLength / PAGE_BYTES; page++) if (!isZeroPage(words, page)) pages.push(page);
  return pages;
}
