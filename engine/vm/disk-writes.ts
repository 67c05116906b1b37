// The guest's writes to its disk, seen where v86 stores them: every write of
// the IDE disk goes through its buffer's `set` (v86 0.5.462 src/buffer.js
// SyncBuffer), wrapped here once to mark the 4 KiB pages it touched. The delta
// path counts them per checkpoint; nothing scans the disk for this.
import type { DiskWrites } from '../checkpoint/machine-state.ts';

const DISK_PAGE_BYTES = 4096;

interface SyncBufferLike {
  byteLength?: unknown;
  set?: unknown;
}

interface CpuWithDisk {
  devices?: { ide?: { primary?: { master?: { buffer?: SyncBufferLike } } } };
}

/** Tracks the writes to the first IDE disk of `cpu`, if it has one of `diskBytes` bytes that v86 writes through `set`. */
export function trackDiskWrites(cpu: CpuWithDisk, diskBytes: number): DiskWrites | undefined {
  const buffer = cpu.devices?.ide?.primary?.master?.buffer;
  if (!buffer || buffer.byteLength !== diskBytes || typeof buffer.set !== 'function') return undefined;
  const set = buffer.set as (this: unknown, start: number, slice: Uint8Array, done: () => void) => void;
  const written = new Uint8Array(Math.ceil(diskBytes / DISK_PAGE_BYTES));
  let count = 0;
  buffer.set = function (this: unknown, start: number, slice: Uint8Array, done: () => void) {
    const last = Math.floor((start + Math.max(slice.byteLength, 1) - 1) / DISK_PAGE_BYTES);
    for (let page = Math.floor(start / DISK_PAGE_BYTES); page <= last && page < written.length; page++) {
      if (written[page] === 0) count++;
      written[page] = 1;
    }
    set.call(this, start, slice, done);
  };
  return {
    pageBytes: DISK_PAGE_BYTES,
    takeWritten() {
      const pages = count;
      written.fill(0);
      count = 0;
      return pages;
    },
  };
}
