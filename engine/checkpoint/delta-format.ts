// The delta checkpoint format: what changed since the checkpoint the secondary
// holds, as RAM pages, pages of the device block (v86's device state buffers
// laid end to end), the device state's JSON skeleton and the disk pages the
// guest wrote.
//   header (80 bytes, u32 little-endian):
//     0 magic 'CV8D' | 4 version | 8 bytes used | 12 checksum of [16, bytes)
//     16 checkpoint | 20 base (checkpoint it applies on; 0: from nothing)
//     24 RAM bytes | 28 RAM pages sent | 32 device block bytes
//     36 device pages sent | 40 device buffer count | 44 JSON bytes
//     48 shared base (checksum of the booted snapshot's RAM the delta applies
//        on, with base 0; 0: none)
//     52 disk bytes | 56 disk pages sent | 60 disk whole (1: the disk pages
//        sent are every non-zero page of the disk, the rest is zero)
//     64 RAM check (checksum of all of RAM once the delta is applied, for the
//        secondary to check; 0: none) | 68–80 zero
//   meta: device buffer byte lengths (u32 each), JSON; padded to 16
//   lists: page numbers, RAM then device then disk, ascending (u32 each); padded to 16
//   pages: 4096 bytes each, in list order
import { PAGE_BYTES } from './kernels.ts';

export const DELTA_MAGIC = 0x44385643; // 'CV8D'
export const DELTA_VERSION = 4;
export const DELTA_HEADER_BYTES = 80;
/** No v86 device state comes near this; a bigger claim is corrupt or hostile. */
export const MAX_DEVICE_BLOCK_BYTES = 64 * 1024 * 1024;
const MAX_DEVICE_BUFFERS = 4096;

export interface DeltaHeader {
  bytes: number;
  checksum: number;
  checkpoint: number;
  base: number;
  /** Non-zero: the delta applies on the shared base, the booted snapshot's RAM with this checksum (base is then 0). */
  baseRam: number;
  ramBytes: number;
  ramPages: number;
  deviceBytes: number;
  devicePages: number;
  bufferCount: number;
  jsonBytes: number;
  diskBytes: number;
  diskPages: number;
  /** 1: the disk pages sent are all its non-zero pages (the secondary zeroes the rest); 0: those written since `base`. */
  diskWhole: number;
  /** Non-zero: all of RAM has this checksum once the delta is applied (a delta whose pages were chosen by their digests). */
  ramCheck: number;
}

const FIELDS = [
  'magic',
  'version',
  'bytes',
  'checksum',
  'checkpoint',
  'base',
  'ramBytes',
  'ramPages',
  'deviceBytes',
  'devicePages',
  'bufferCount',
  'jsonBytes',
  'baseRam',
  'diskBytes',
  'diskPages',
  'diskWhole',
  'ramCheck',
] as const;

export const align16 = (n: number): number => (n + 15) & ~15;

/** Where each part starts, from the counts in the header. */
export interface DeltaLayout {
  jsonOffset: number;
  listsOffset: number;
  pagesOffset: number;
  bytes: number;
}

export function deltaLayout(h: Pick<DeltaHeader, 'bufferCount' | 'jsonBytes' | 'ramPages' | 'devicePages' | 'diskPages'>): DeltaLayout {
  const jsonOffset = DELTA_HEADER_BYTES + 4 * h.bufferCount;
  const listsOffset = align16(jsonOffset + h.jsonBytes);
  const pages = h.ramPages + h.devicePages + h.diskPages;
  const pagesOffset = listsOffset + align16(4 * pages);
  return { jsonOffset, listsOffset, pagesOffset, bytes: pagesOffset + pages * PAGE_BYTES };
}

/** Where each device buffer sits in the device block: 16-aligned, block rounded to pages. */
export function deviceBlockLayout(lengths: ArrayLike<number>): { offsets: number[]; bytes: number } {
  const offsets: number[] = [];
  let end = 0;
  for (let i = 0; i < lengths.length; i++) {
    offsets.push(end);
    end = align16(end + (lengths[i] as number));
  }
  return { offsets, bytes: Math.ceil(end / PAGE_BYTES) * PAGE_BYTES };
}

/** Whether two device blocks have the same buffers, by their byte lengths. */
export function sameLayout(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function writeDeltaHeader(target: DataView, h: DeltaHeader): void {
  const values: Record<(typeof FIELDS)[number], number> = { magic: DELTA_MAGIC, version: DELTA_VERSION, ...h };
  FIELDS.forEach((name, i) => target.setUint32(4 * i, values[name], true));
  for (let at = 4 * FIELDS.length; at < DELTA_HEADER_BYTES; at += 4) target.setUint32(at, 0, true);
}

export interface DeltaExpectation {
  /** Bytes vmstate-size announced. */
  announced: number;
  ramBytes: number;
  diskBytes: number;
  /** The checkpoint this secondary holds: a delta must apply on it (or on nothing). */
  holds: number;
  /** The RAM checksum of the shared base this secondary holds untouched, if it does. */
  baseRam?: number;
  /** The checkpoint vmstate-size announced it as. */
  checkpoint: number;
}

/**
 * Checks everything about a received delta that can be checked without the
 * checksum: header, sizes, base, page lists. Returns the header, or what is wrong.
 */
export function checkDelta(payload: ArrayBuffer, expect: DeltaExpectation): DeltaHeader | { error: string } {
  if (payload.byteLength < DELTA_HEADER_BYTES) {
    return { error: `truncated: ${payload.byteLength} bytes arrived, less than the ${DELTA_HEADER_BYTES}-byte delta header` };
  }
  const view = new DataView(payload);
  const read = (name: (typeof FIELDS)[number]): number => view.getUint32(4 * FIELDS.indexOf(name), true);
  if (read('magic') !== DELTA_MAGIC) return { error: `not a delta checkpoint (magic 0x${read('magic').toString(16)})` };
  if (read('version') !== DELTA_VERSION) {
    return { error: `delta format version ${read('version')}, this build reads version ${DELTA_VERSION}` };
  }
  const h: DeltaHeader = {
    bytes: read('bytes'),
    checksum: read('checksum'),
    checkpoint: read('checkpoint'),
    base: read('base'),
    baseRam: read('baseRam'),
    ramBytes: read('ramBytes'),
    ramPages: read('ramPages'),
    deviceBytes: read('deviceBytes'),
    devicePages: read('devicePages'),
    bufferCount: read('bufferCount'),
    jsonBytes: read('jsonBytes'),
    diskBytes: read('diskBytes'),
    diskPages: read('diskPages'),
    diskWhole: read('diskWhole'),
    ramCheck: read('ramCheck'),
  };
  if (h.bytes !== expect.announced) return { error: `delta header says ${h.bytes} bytes, vmstate-size announced ${expect.announced}` };
  if (h.checkpoint !== expect.checkpoint) return { error: `a delta of checkpoint ${h.checkpoint} arrived as checkpoint ${expect.checkpoint}` };
  if (h.bytes > payload.byteLength) return { error: `truncated: ${payload.byteLength} bytes arrived, vmstate-size announced ${h.bytes}` };
  if (h.ramBytes !== expect.ramBytes) return { error: `delta of a VM with ${h.ramBytes} bytes of RAM, this VM has ${expect.ramBytes}` };
  if (h.diskBytes !== expect.diskBytes) return { error: `delta of a VM with a disk of ${h.diskBytes} bytes, this VM's disk has ${expect.diskBytes}` };
  if (h.base !== 0 && h.base !== expect.holds) {
    return { error: `delta applies on checkpoint ${h.base}, this secondary holds checkpoint ${expect.holds}` };
  }
  if (h.baseRam !== 0 && (h.base !== 0 || h.baseRam !== expect.baseRam)) {
    const held = expect.baseRam === undefined ? 'holds no shared base' : `holds the shared base ${hex(expect.baseRam)}`;
    return { error: `delta applies on the shared base ${hex(h.baseRam)}${h.base !== 0 ? ` and checkpoint ${h.base}` : ''}, this secondary ${held}` };
  }
  if (h.ramPages > h.ramBytes / PAGE_BYTES) return { error: `delta lists ${h.ramPages} RAM pages, the VM has ${h.ramBytes / PAGE_BYTES}` };
  if (h.deviceBytes > MAX_DEVICE_BLOCK_BYTES || h.deviceBytes % PAGE_BYTES !== 0) return { error: `device block of ${h.deviceBytes} bytes is not plausible` };
  if (h.devicePages > h.deviceBytes / PAGE_BYTES) return { error: `delta lists ${h.devicePages} device pages, the block has ${h.deviceBytes / PAGE_BYTES}` };
  if (h.diskPages > h.diskBytes / PAGE_BYTES) return { error: `delta lists ${h.diskPages} disk pages, the disk has ${h.diskBytes / PAGE_BYTES}` };
  if (h.diskWhole > 1) return { error: `delta's disk-whole flag is ${h.diskWhole}, not 0 or 1` };
  // From nothing (no base checkpoint, no shared base), the disk has nothing to build on either.
  if (h.base === 0 && h.baseRam === 0 && h.diskBytes > 0 && h.diskWhole === 0) return { error: 'a delta from nothing that does not carry the whole disk' };
  if (h.bufferCount > MAX_DEVICE_BUFFERS) return { error: `delta lists ${h.bufferCount} device buffers` };
  const layout = deltaLayout(h);
  if (layout.bytes !== h.bytes) return { error: `delta parts add up to ${layout.bytes} bytes, its header says ${h.bytes}` };
  const lengths = new Uint32Array(payload, DELTA_HEADER_BYTES, h.bufferCount);
  if (deviceBlockLayout(lengths).bytes !== h.deviceBytes) return { error: `device buffers do not fill the ${h.deviceBytes}-byte device block` };
  const lists = new Uint32Array(payload, layout.listsOffset, h.ramPages + h.devicePages + h.diskPages);
  const deviceEnd = h.ramPages + h.devicePages;
  const listError =
    checkAscending(lists.subarray(0, h.ramPages), h.ramBytes / PAGE_BYTES, 'RAM') ??
    checkAscending(lists.subarray(h.ramPages, deviceEnd), h.deviceBytes / PAGE_BYTES, 'device') ??
    checkAscending(lists.subarray(deviceEnd), h.diskBytes / PAGE_BYTES, 'disk');
  return listError ? { error: listError } : h;
}

/** A checksum as the trace and errors print it. */
export const hex = (n: number): string => n.toString(16).padStart(8, '0');

function checkAscending(list: Uint32Array, limit: number, what: string): string | undefined {
  let previous = -1;
  for (const page of list) {
    if (page >= limit) return `${what} page list names page ${page}, past the end of the ${what} (${limit} pages)`;
    if (page <= previous) return `${what} page list is corrupt (page ${page} after ${previous})`;
    previous = page;
  }
  return undefined;
}
