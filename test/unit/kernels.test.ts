// The WebAssembly kernels against their JavaScript references, and the
// committed build of kernels.wat against a fresh one.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checksumJs, diffMarkedJs, diffPagesJs } from '../../engine/checkpoint/kernels-js.ts';
import { bindKernels, CHECKSUM_SEED, PAGE_BYTES } from '../../engine/checkpoint/kernels.ts';
import { compileKernels } from '../../tools/build-kernels.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const PAGES = 64;

function flip(bytes: Uint8Array, at: number): void {
  bytes[at] = (bytes[at] ?? 0) ^ 0x5a;
}
const CUR = 0;
const SHADOW = PAGES * PAGE_BYTES;
const LIST = 2 * SHADOW;
const OUT = LIST + PAGE_BYTES;
const STATE = OUT + SHADOW;
const MARKS = STATE + 16;

function setup(seed: number): { memory: WebAssembly.Memory; bytes: Uint8Array } {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((MARKS + PAGES) / 65536) });
  const bytes = new Uint8Array(memory.buffer);
  const random = seeded(seed);
  for (let i = 0; i < SHADOW; i++) bytes[i] = random() & 0xff;
  bytes.copyWithin(SHADOW, CUR, SHADOW);
  // Changes at the first byte, the last byte and the middle of a few pages.
  for (const [page, at] of [
    [0, 0],
    [5, 4095],
    [6, 2048],
    [63, 17],
  ] as const)
    flip(bytes, CUR + page * PAGE_BYTES + at);
  return { memory, bytes };
}

describe('checkpoint kernels', () => {
  it('diff_pages finds exactly the changed pages, packs them and updates the shadow, like the JavaScript reference', () => {
    const wasm = setup(7);
    const js = setup(7);
    const n = bindKernels(wasm.memory).diffPages(CUR, SHADOW, PAGES, LIST, OUT);
    const nJs = diffPagesJs(js.bytes, CUR, SHADOW, PAGES, LIST, OUT);
    expect(n).toBe(4);
    expect(nJs).toBe(4);
    expect([...new Uint32Array(wasm.memory.buffer, LIST, n)]).toEqual([0, 5, 6, 63]);
    expect(wasm.bytes.subarray(0, STATE)).toEqual(js.bytes.subarray(0, STATE));
    expect(wasm.bytes.subarray(SHADOW, 2 * SHADOW)).toEqual(wasm.bytes.subarray(CUR, SHADOW));
    expect(wasm.bytes.subarray(OUT + PAGE_BYTES, OUT + 2 * PAGE_BYTES)).toEqual(wasm.bytes.subarray(5 * PAGE_BYTES, 6 * PAGE_BYTES));
    // Second pass: nothing changed since.
    expect(bindKernels(wasm.memory).diffPages(CUR, SHADOW, PAGES, LIST, OUT)).toBe(0);
  });

  it('diff_marked looks only at marked pages, clears the map, and leaves an unmarked change for the full scan', () => {
    const wasm = setup(7);
    const js = setup(7);
    // Pages 0, 5, 6 and 63 changed; 17 was marked but written back the same; 6 changed unmarked.
    for (const { bytes } of [wasm, js]) for (const page of [0, 5, 17, 63]) bytes[MARKS + page] = 1;
    const kernels = bindKernels(wasm.memory);
    const n = kernels.diffMarked(CUR, SHADOW, PAGES, MARKS, LIST, OUT);
    expect(n).toBe(3);
    expect(diffMarkedJs(js.bytes, CUR, SHADOW, PAGES, MARKS, LIST, OUT)).toBe(3);
    expect([...new Uint32Array(wasm.memory.buffer, LIST, n)]).toEqual([0, 5, 63]);
    expect(wasm.bytes.subarray(0, MARKS + PAGES)).toEqual(js.bytes.subarray(0, MARKS + PAGES));
    expect(wasm.bytes.subarray(MARKS, MARKS + PAGES).every((b) => b === 0)).toBe(true);
    expect(wasm.bytes.subarray(OUT + 2 * PAGE_BYTES, OUT + 3 * PAGE_BYTES)).toEqual(wasm.bytes.subarray(63 * PAGE_BYTES, 64 * PAGE_BYTES));
    // What tracking missed, the full scan still finds.
    expect(kernels.diffPages(CUR, SHADOW, PAGES, LIST, OUT)).toBe(1);
    expect(new Uint32Array(wasm.memory.buffer, LIST, 1)[0]).toBe(6);
  });

  it('checksum equals the reference, chains across regions and sees a single flipped bit', () => {
    const { memory, bytes } = setup(3);
    const kernels = bindKernels(memory);
    const lanes = new Uint32Array(memory.buffer, STATE, 4);
    const run = (f: () => void): number[] => {
      lanes.fill(CHECKSUM_SEED);
      f();
      return [...lanes];
    };
    const whole = run(() => kernels.checksum(0, 8192, STATE));
    expect(run(() => checksumJs(bytes, 0, 8192, STATE))).toEqual(whole);
    expect(run(() => (kernels.checksum(0, 4096, STATE), kernels.checksum(4096, 4096, STATE)))).toEqual(whole);
    flip(bytes, 1234);
    expect(run(() => kernels.checksum(0, 8192, STATE))).not.toEqual(whole);
  });

  it('kernels.wasm.ts is the build of kernels.wat (run `npm run kernels` after editing it)', async () => {
    const committed = readFileSync(new URL('../../engine/checkpoint/kernels.wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await compileKernels());
  });
});
