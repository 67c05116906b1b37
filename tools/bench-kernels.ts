// `npm run bench:kernels`: the checkpoint kernels (kernels.wat, WebAssembly
// SIMD) in one process, on the guest's RAM size: page comparison of 80 MiB
// with 0.1% of pages changed and the checksum of 8 MiB, each against its
// JavaScript reference (kernels-js.ts); the comparison of only the 32 pages
// write tracking marked (an idle guest's checkpoint) against the full
// comparison it replaces. Median of 15 after 3 warm-ups.
// Options: --out FILE (default bench-results/kernels.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { checksumJs, diffPagesJs } from '../engine/checkpoint/kernels-js.ts';
import { bindKernels, markMapBytes, PAGE_BYTES } from '../engine/checkpoint/kernels.ts';
import { GUEST_CONFIG } from '../engine/vm/guest-config.ts';
import { formatSummary, summarize, type Summary } from '../engine/shared/statistics.ts';
import { BenchReport } from './bench-docs.ts';

const RAM = GUEST_CONFIG.memoryBytes;
const PAGES = RAM / PAGE_BYTES;
const CHECKSUM_BYTES = 8 * 1024 * 1024;
const RUNS = 15;
const WARMUPS = 3;

const MARKED = 32;
/** Room for the changed pages of one diff (0.1% of pages; 1% kept), in whole pages. */
const OUT_BYTES = Math.ceil(PAGES / 100) * PAGE_BYTES;
const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * RAM + 4 * PAGES + OUT_BYTES + markMapBytes(PAGES) + 65536) / 65536) });
const bytes = new Uint8Array(memory.buffer);
const SHADOW = RAM;
const LIST = 2 * RAM;
const OUT = LIST + 4 * PAGES;
const LANES = OUT + OUT_BYTES;
const MARKS = LANES + 16;
const kernels = bindKernels(memory);

// RAM like a guest's: most pages non-zero, the shadow equal to it.
for (let page = 0; page < PAGES; page++) bytes[page * PAGE_BYTES + (page % 4093)] = (page % 251) + 1;
bytes.copyWithin(SHADOW, 0, RAM);

/** Dirties 0.1% of pages, spread out, so both versions find the same work. */
function dirty(round: number): void {
  for (let page = round % 1000; page < PAGES; page += 1000) bytes[page * PAGE_BYTES + 100] = (bytes[page * PAGE_BYTES + 100] ?? 0) + 1;
}

function time(run: (round: number) => void): Summary {
  const times: number[] = [];
  for (let round = 0; round < WARMUPS + RUNS; round++) {
    const t0 = performance.now();
    run(round);
    if (round >= WARMUPS) times.push(performance.now() - t0);
  }
  return summarize(times);
}

/** A kernel's times, and those of what it is measured against. */
interface Result {
  kernel: Summary;
  baseline: Summary;
  against: string;
  speedup: number;
}

const result = (kernel: Summary, baseline: Summary, against: string): Result => ({ kernel, baseline, against, speedup: baseline.median / kernel.median });

function measure(): Record<string, Result> {
  const out: Record<string, Result> = {};
  // Alternate so both see the same machine noise.
  const diffWasm: number[] = [];
  const diffJs: number[] = [];
  for (let round = 0; round < WARMUPS + RUNS; round++) {
    for (const [impl, sink] of [
      ['wasm', diffWasm],
      ['js', diffJs],
    ] as const) {
      dirty(round * 2 + (impl === 'js' ? 1 : 0));
      const t0 = performance.now();
      const n = impl === 'wasm' ? kernels.diffPages(0, SHADOW, PAGES, LIST, OUT) : diffPagesJs(bytes, 0, SHADOW, PAGES, LIST, OUT);
      const ms = performance.now() - t0;
      if (n === 0) throw new Error('no changed pages found');
      if (round >= WARMUPS) sink.push(ms);
    }
  }
  const dw = summarize(diffWasm);
  const dj = summarize(diffJs);
  out['diff 80 MiB'] = result(dw, dj, 'JavaScript');
  // Marks spread over all of RAM, half of them on pages that changed (v86 marks more than changes).
  const mark = (round: number) => {
    for (let i = 0; i < MARKED; i++) {
      const page = (i * 641 + round * 7) % PAGES;
      bytes[MARKS + page] = 1;
      if (i % 2 === 0) bytes[page * PAGE_BYTES + 200] = (bytes[page * PAGE_BYTES + 200] ?? 0) + 1;
    }
  };
  const mw = time((round) => {
    mark(round);
    kernels.diffMarked(0, SHADOW, PAGES, MARKS, LIST, OUT);
  });
  out[`diff ${MARKED} marked pages`] = result(mw, dw, 'WebAssembly diff of all 80 MiB');
  const cw = time(() => kernels.checksum(0, CHECKSUM_BYTES, LANES));
  const cj = time(() => checksumJs(bytes, 0, CHECKSUM_BYTES, LANES));
  out['checksum 8 MiB'] = result(cw, cj, 'JavaScript');
  return out;
}

const results = measure();
const docs = new BenchReport('kernels', 'WebAssembly kernels', 'npm run bench:kernels');
for (const [name, r] of Object.entries(results)) {
  const indent = ' '.repeat(name.length + 2);
  docs.line(`${name}: ${formatSummary(r.kernel, 'ms', 2)}`);
  docs.line(`${indent}against ${r.against}: ${formatSummary(r.baseline, 'ms', 2)}`);
  docs.line(`${indent}${r.speedup.toFixed(1)}× faster (ratio of medians)`);
}
docs.finish();
const out = process.argv.includes('--out')
  ? (process.argv[process.argv.indexOf('--out') + 1] as string)
  : join(import.meta.dirname, '..', 'bench-results', 'kernels.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify({ machine: `${cpus().length}× ${cpus()[0]?.model}`, node: process.version, date: new Date().toISOString(), results }, null, 2) + '\n',
);
console.log(`wrote ${out}`);
