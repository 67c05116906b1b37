// The guest's disk for the delta path, seen where v86 stores it: the IDE
// disk's SyncBuffer (v86 0.5.462 src/buffer.js), whose `set` every write of
// the guest goes through. Wrapped once, `set` marks the 4 KiB pages it
// touches and keeps each page's contents from before its first write (what a
// secondary in compare mode puts back, as QEMU's hidden disk is thrown away).
// Nothing scans the disk for writes.
// The disk leaves v86's device state: its `get_state` would hand the whole
// buffer to every checkpoint's device block, and its `set_state` copies the
// whole buffer on every load. The device state names it null, and the
// wrapped `set_state` leaves the disk alone for a null (the delta's disk part
// brought its pages); a full state (v86's save_state) still carries it whole.
import { PAGE_BYTES } from '../checkpoint/kernels.ts';
import type { GuestDisk } from '../checkpoint/machine-state.ts';

interface SyncBufferLike {
  byteLength?: unknown;
  buffer?: unknown;
  set?: unknown;
  set_state?: unknown;
}

interface CpuWithDisk {
  devices?: { ide?: { primary?: { master?: { buffer?: SyncBufferLike } } } };
}

export interface V86Disk {
  disk: GuestDisk;
  /** The object v86's device state holds the disk as: left out of the device state. */
  stateObject: object;
}

/** Each disk wrapped so far: a disk is wrapped once, however often the engine opens it. */
const opened = new WeakMap<object, V86Disk>();

/**
 * The first IDE disk of `cpu`, if it has one of `diskBytes` bytes (whole
 * pages) that v86 keeps in an ArrayBuffer and writes through `set`.
 */
export function openV86Disk(cpu: CpuWithDisk, diskBytes: number): V86Disk | undefined {
  const sync = cpu.devices?.ide?.primary?.master?.buffer;
  if (!sync || sync.byteLength !== diskBytes || diskBytes % PAGE_BYTES !== 0) return undefined;
  const known = opened.get(sync);
  if (known) return known;
  if (typeof sync.set !== 'function' || typeof sync.set_state !== 'function' || !(sync.buffer instanceof ArrayBuffer)) return undefined;
  const disk = wrap(sync, diskBytes);
  opened.set(sync, disk);
  return disk;
}

/** Wraps `set` and `set_state` of `sync`, a SyncBuffer of `diskBytes` bytes. */
function wrap(sync: SyncBufferLike, diskBytes: number): V86Disk {
  const contents = (): Uint8Array => new Uint8Array(sync.buffer as ArrayBuffer);
  const pages = diskBytes / PAGE_BYTES;
  const written = new Uint8Array(pages);
  let order: number[] = [];
  /** Each written page as it was before its first write since the last take (made on the first write). */
  let before: Uint8Array | undefined;
  let wholeLoads = 0;

  const set = sync.set as (this: unknown, start: number, slice: Uint8Array, done: () => void) => void;
  sync.set = function (this: unknown, start: number, slice: Uint8Array, done: () => void) {
    const last = Math.min(Math.floor((start + Math.max(slice.byteLength, 1) - 1) / PAGE_BYTES), pages - 1);
    for (let page = Math.floor(start / PAGE_BYTES); page <= last; page++) {
      if (written[page] === 1) continue;
      written[page] = 1;
      order.push(page);
      before ??= new Uint8Array(diskBytes);
      before.set(contents().subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES), page * PAGE_BYTES);
    }
    set.call(this, start, slice, done);
  };
  const setState = sync.set_state as (this: unknown, state: unknown) => void;
  sync.set_state = function (this: unknown, state: unknown) {
    if (state === null) return;
    setState.call(this, state);
    // A whole disk loaded: what was marked, and kept from before, no longer describes it.
    take();
    wholeLoads++;
  };

  const take = (): number[] => {
    const taken = order.sort((a, b) => a - b);
    for (const page of taken) written[page] = 0;
    order = [];
    return taken;
  };
  return {
    stateObject: sync,
    disk: {
      get wholeLoads() {
        return wholeLoads;
      },
      bytes: diskBytes,
      contents,
      takeWritten: take,
      revertWritten() {
        const reverted = take();
        const disk = contents();
        for (const page of reverted) disk.set((before as Uint8Array).subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES), page * PAGE_BYTES);
        return reverted.length;
      },
    },
  };
}
