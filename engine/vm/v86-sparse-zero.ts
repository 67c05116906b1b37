// v86 clears all of RAM before it unpacks a state's non-zero pages
// (cpu.unpack_memory → zero_memory(0, size)). In a VM that has not run, RAM is
// almost all zero pages nobody touched, and writing zeros over them makes all
// 80 MiB resident; a booted snapshot holds 27 MB. For that first load only,
// the clearing writes just the pages that are not zero already (the BIOS's,
// a few dozen): the same RAM afterwards, and the untouched pages stay free.
// A VM that has never run has written RAM only where v86 put the BIOSes, below
// 1 MiB (cpu.load_bios): only that much is looked at then, not all 80 MiB
// (reading an untouched page costs a fault; 40-120 ms for all of them in a
// page's worker). test/node/v86-internals.test.ts holds v86 to that.
import { zeroSparse } from '../checkpoint/sparse-pages.ts';
import { PAGE_BYTES } from '../checkpoint/kernels.ts';

interface ZeroingInternals {
  zero_memory?: unknown;
  /** Guest RAM: a byte view into the wasm memory (v86's own view type, not always an instance of this realm's Uint8Array). */
  mem8?: { buffer: ArrayBufferLike; byteOffset: number; length: number };
}

/** Where a VM that has never run may hold non-zero RAM: below this address. */
export const WRITTEN_BEFORE_RUNNING = 1024 * 1024;

/**
 * The next zero_memory call of `emulator`'s CPU writes only non-zero pages;
 * why not, if this v86 lacks what it needs. `notRun`: the VM has never run, so
 * only its RAM below WRITTEN_BEFORE_RUNNING can be non-zero.
 */
export function zeroSparselyOnce(emulator: unknown, notRun = false): string | undefined {
  const cpu = (emulator as { v86?: { cpu?: ZeroingInternals } }).v86?.cpu;
  const zero = cpu?.zero_memory;
  if (!cpu || typeof zero !== 'function' || typeof cpu.mem8?.byteOffset !== 'number') return 'v86 cpu lacks zero_memory or mem8';
  cpu.zero_memory = function (this: unknown, address: number, bytes: number) {
    cpu.zero_memory = zero;
    const ram = cpu.mem8 as NonNullable<ZeroingInternals['mem8']>;
    if (address % PAGE_BYTES !== 0 || bytes % PAGE_BYTES !== 0 || address + bytes > ram.length)
      return (zero as (a: number, b: number) => unknown).call(cpu, address, bytes);
    const end = notRun ? Math.min(address + bytes, WRITTEN_BEFORE_RUNNING) : address + bytes;
    if (end > address) zeroSparse(new Uint8Array(ram.buffer), ram.byteOffset + address, end - address);
    return undefined;
  };
  return undefined;
}
