// The checkpoint kernels (kernels.wat) bound to one WebAssembly memory.
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts';

export const PAGE_BYTES = 4096;

/** Bytes of a write-tracking map for `pages` pages: one a page, padded for the kernel's 16-byte steps. */
export const markMapBytes = (pages: number): number => Math.ceil(pages / 16) * 16;
/** Seed of each checksum lane: FNV-1a's offset basis. */
export const CHECKSUM_SEED = 0x811c9dc5;

export interface Kernels {
  /** See kernels.wat: returns the number of changed pages, listed at `list` and packed at `out`. */
  diffPages(cur: number, shadow: number, pages: number, list: number, out: number): number;
  /** diffPages for the pages marked in the byte map at `marks` (padded to 16 bytes); clears the map. */
  diffMarked(cur: number, shadow: number, pages: number, marks: number, list: number, out: number): number;
  /** Continues the four lane states at `state` over `len` bytes at `ptr` (len % 16 === 0). */
  checksum(ptr: number, len: number, state: number): void;
}

let compiled: WebAssembly.Module | undefined;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bindKernels(memory: WebAssembly.Memory): Kernels {
  compiled ??= new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64));
  const exports = new WebAssembly.Instance(compiled, { env: { memory } }).exports as {
    diff_pages: (cur: number, shadow: number, pages: number, list: number, out: number) => number;
    diff_marked: (cur: number, shadow: number, pages: number, marks: number, list: number, out: number) => number;
    checksum: (ptr: number, len: number, state: number) => void;
  };
  return { diffPages: exports.diff_pages, diffMarked: exports.diff_marked, checksum: exports.checksum };
}

/**
 * The checksum of `regions` (pointer, length pairs of `memory`, each a multiple
 * of 16 bytes), taken in order, with `length` mixed in; the four lane states
 * live at `lanesAt` (16 bytes of `memory`).
 */
export function checksumOf(
  kernels: Kernels,
  memory: ArrayBufferLike,
  lanesAt: number,
  length: number,
  regions: readonly (readonly [number, number])[],
): number {
  const lanes = new Uint32Array(memory, lanesAt, 4);
  lanes.fill(CHECKSUM_SEED);
  for (const [ptr, len] of regions) kernels.checksum(ptr, len, lanesAt);
  return foldChecksum(lanes, length);
}

/** Folds the four lane states into one 32-bit checksum, with the length mixed in. */
export function foldChecksum(lanes: Uint32Array, length: number): number {
  let h = CHECKSUM_SEED;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ (lanes[i] as number), 0x01000193);
  return Math.imul(h ^ length, 0x01000193) >>> 0;
}
