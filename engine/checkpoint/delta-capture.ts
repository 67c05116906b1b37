// The primary's side of a delta checkpoint: compares guest RAM and the device
// block with shadow copies of the last checkpoint (a WebAssembly kernel at
// memory speed), packs what changed, checksums it, and hands it out in a
// reused transferable buffer. The first capture after reset() is against an
// all-zero shadow, so it sends every non-zero page: a full copy. After
// reset(true) it is against the shared base instead, the booted snapshot's RAM
// that adoptBase() copied: then it sends only the RAM pages that differ from
// the snapshot (the device block still whole). A VM whose shadow no longer
// holds the snapshot does the same from the snapshot's page digests
// (resetOnDigests): the pages whose digest changed, and all of RAM's checksum
// for the secondary to check the result against.
// Where the VM tracks its writes, only the pages it marked since the last
// capture are compared (still against the shadow, so the delta stays exact);
// after a reset, or a write the tracking cannot see, one capture scans all of
// RAM again and the next ones go back to the marks.
// The disk part carries the disk pages the guest wrote since the last capture
// (the VM marks them where it stores them); after a reset, a failed capture or
// a rebuilt base, one capture sends every non-zero page of the disk instead.
import { align16, deltaLayout, deviceBlockLayout, DELTA_HEADER_BYTES, sameLayout, writeDeltaHeader } from './delta-format.ts';
import { copyArray } from './device-state.ts';
import type { BaseDigests } from './base-digests.ts';
import { bindKernels, checksumOf, PAGE_BYTES, type Kernels } from './kernels.ts';
import type { MachineStateAccess } from './machine-state.ts';
import { copyOverZeros, nonZeroPages, zeroSparse } from './sparse-pages.ts';
import { WasmArena, type Region } from './wasm-arena.ts';
import { WriteMarks, type Tracking } from './write-marks.ts';

export { MissedWritesError } from './write-marks.ts';

export interface CapturedDelta {
  /** The delta in the first `bytes` bytes of a buffer that may be larger (reused). */
  payload: ArrayBuffer;
  bytes: number;
  checksum: number;
  base: number;
  ramPages: number;
  devicePages: number;
  /** Pages of the guest's disk in the disk part (undefined: the VM has no disk). */
  diskPages: number | undefined;
  /** Whether the disk part is the whole disk (its non-zero pages), not what the guest wrote since the last capture. */
  diskWhole: boolean;
  /** How the changed RAM pages were found: from the VM's write marks, or by comparing all of RAM. */
  tracking: Tracking;
  /** Where the capture's time went, in ms. */
  parts: CaptureParts;
}

export interface CaptureParts {
  /** Reading v86's device state without RAM, its skeleton as JSON, its buffers laid out in the block. */
  devicesMs: number;
  /** Finding and packing the changed RAM pages. */
  ramMs: number;
  /** Comparing the device block with its shadow. */
  deviceDiffMs: number;
  /** Copying the disk pages the guest wrote into the delta. */
  diskMs: number;
  /** Checksumming the delta and copying it into the outgoing buffer. */
  packMs: number;
}

export interface CaptureOptions {
  /** Use the VM's write marks where it has them (false: compare all of RAM every time, for comparison). */
  writeTracking: boolean;
  /** Also compare all of RAM, and fail naming any changed page the tracking did not mark. */
  verify: boolean;
}

interface DeviceBlock {
  lengths: number[];
  offsets: number[];
  bytes: number;
  current: Region;
  shadow: Region;
}

const POOL_LIMIT = 2;
/**
 * A pooled buffer is reused for a delta at most this many times its size
 * (or up to REUSE_FLOOR_BYTES). The first checkpoint is a full copy (~35 MB):
 * sent again with every small delta, it made V8 count 35 MB of new external
 * memory in each worker per checkpoint and collect garbage every time (~1 ms
 * of the primary's pause, and of the secondary's load).
 */
const REUSE_OVERSIZE = 4;
const REUSE_FLOOR_BYTES = 1024 * 1024;

export class DeltaCapture {
  private readonly arena: WasmArena;
  private readonly kernels: Kernels;
  private readonly shadow: Region;
  /** The RAM shadow holds only zeros (fresh, or just reset for a full copy). */
  private shadowZero = true;
  private device: DeviceBlock | undefined;
  private meta: Region | undefined;
  private lists: Region | undefined;
  private pages: Region | undefined;
  private readonly lanes: Region;
  private readonly pool: ArrayBuffer[] = [];
  private readonly encoder = new TextEncoder();
  /** The checkpoint the shadows hold: the base of the next delta. */
  private base = 0;
  /** While the RAM shadow still holds the booted snapshot adoptBase() copied: that RAM's checksum. */
  private baseRam: number | undefined;
  /** The next capture applies on the shared base with this RAM checksum (0: it does not). */
  private onBase = 0;
  /** The next capture finds the pages that differ from the shared base by these digests (the shadow does not hold it). */
  private digests: BaseDigests | undefined;
  /** Payload buffers created so far: stays flat once the pool is warm. */
  allocations = 0;
  /** The VM's write marks, where it tracks its writes. */
  private readonly marks: WriteMarks | undefined;
  /** The next disk part is the whole disk: the disk's marks do not say all it differs in from the base. */
  private diskWhole = true;
  /** The disk's whole loads seen so far: one more, and the marks missed it. */
  private diskLoads = 0;

  constructor(private readonly access: MachineStateAccess) {
    this.arena = new WasmArena(access.memory);
    this.kernels = bindKernels(access.memory);
    this.shadow = this.arena.alloc(access.ramBytes);
    this.lanes = this.arena.alloc(16);
    this.marks = WriteMarks.open(access, this.arena, this.kernels, access.ramBytes / PAGE_BYTES);
    this.diskLoads = access.disk?.wholeLoads ?? 0;
  }

  /** Why captures compare all of RAM, or undefined when the VM's write marks are used. */
  get trackingUnavailable(): string | undefined {
    const { writes } = this.access;
    return 'unavailable' in writes ? writes.unavailable : undefined;
  }

  /**
   * The VM was just built from the booted snapshot and has not run: its RAM
   * becomes the RAM shadow, and the write marks start here. Returns the RAM's
   * checksum, the name under which a secondary holding the same RAM is found.
   */
  adoptBase(): number {
    const { ramOffset, ramBytes } = this.access;
    const memory = this.arena.bytes();
    // The shadow is all zeros here (fresh, or cleared by reset()): only RAM's non-zero pages need copying.
    if (this.shadowZero) copyOverZeros(memory, ramOffset, this.shadow.offset, ramBytes);
    else memory.copyWithin(this.shadow.offset, ramOffset, ramOffset + ramBytes);
    this.marks?.arm(true);
    // The secondary standing by holds the same disk: what the guest writes from here is what differs.
    this.access.disk?.takeWritten();
    this.diskWhole = false;
    this.diskLoads = this.access.disk?.wholeLoads ?? 0;
    return this.holdBase();
  }

  /** The shadow now holds the shared base: its checksum names it. */
  private holdBase(): number {
    const { ramBytes } = this.access;
    this.shadowZero = false;
    this.baseRam = checksumOf(this.kernels, this.arena.bytes().buffer, this.lanes.offset, ramBytes, [[this.shadow.offset, ramBytes]]);
    this.base = 0;
    this.onBase = 0;
    return this.baseRam;
  }

  /** The shared base's RAM checksum while the RAM shadow still holds it (no capture since adoptBase). */
  get heldBase(): number | undefined {
    return this.baseRam;
  }

  /**
   * The next capture is for a new secondary. `onBase`: it holds the shared
   * base, so the capture builds on that if the RAM shadow still holds it too
   * (returns whether it does); otherwise it is a full copy.
   */
  reset(onBase = false): boolean {
    this.digests = undefined;
    const memory = this.arena.bytes();
    // The device block goes whole either way: the secondary built its devices from nothing here.
    if (this.device) memory.fill(0, this.device.shadow.offset, this.device.shadow.offset + this.device.bytes);
    this.base = 0;
    if (onBase && this.baseRam !== undefined) {
      this.onBase = this.baseRam;
      return true;
    }
    // The first capture compares all of RAM; it arms the marks for the next.
    this.marks?.invalidate();
    this.diskWhole = true;
    // A shadow that holds only zeros is left alone: scanning fresh memory faults
    // in every page of it (260–520 ms for 80 MB here), while the peer, waiting
    // for checkpoint 1, expects heartbeats.
    if (!this.shadowZero) zeroSparse(memory, this.shadow.offset, this.access.ramBytes);
    this.shadowZero = true;
    this.baseRam = undefined;
    this.onBase = 0;
    return false;
  }

  /**
   * The next capture is for a new secondary that holds the booted snapshot
   * `digests` were taken of, while the shadow no longer does: it carries the
   * RAM pages whose digest changed (a full compare, with no copy of the
   * snapshot) and the checksum of all of RAM, which the secondary checks.
   */
  resetOnDigests(digests: BaseDigests): void {
    this.reset(false);
    this.digests = digests;
    this.onBase = digests.ram;
  }

  /** A payload buffer the secondary handed back. */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength > 0 && this.pool.length < POOL_LIMIT) this.pool.push(buffer);
  }

  /** The VM must be stopped. */
  capture(checkpoint: number, options: CaptureOptions = { writeTracking: true, verify: false }): CapturedDelta {
    const { access, kernels } = this;
    const started = performance.now();
    // From here on the shadow turns into this checkpoint, even if the capture fails: no longer the booted snapshot.
    const onBase = this.onBase;
    const digests = this.digests;
    this.baseRam = undefined;
    this.onBase = 0;
    this.digests = undefined;
    this.shadowZero = false;
    const { disk } = access;
    const diskWhole = this.diskWhole || (disk !== undefined && disk.wholeLoads !== this.diskLoads);
    this.diskLoads = disk?.wholeLoads ?? 0;
    // Until this capture is done: one that fails took the disk's marks, and the next must send it whole.
    this.diskWhole = true;
    // A whole disk: every page that is not all zeros (the marks are forgotten, they are covered).
    const written = disk?.takeWritten() ?? [];
    const diskList = disk && diskWhole ? nonZeroPages(disk.contents()) : written;
    const before = access.memory.buffer;
    let flat = access.readDevices();
    const device = this.deviceBlock(flat.buffers.map((b) => b.byteLength));
    const json = JSON.stringify(flat.tree);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const metaBytes = align16(DELTA_HEADER_BYTES + 4 * device.lengths.length + 3 * json.length);
    this.meta = this.arena.ensure(this.meta, metaBytes);
    const ramPageCount = access.ramBytes / PAGE_BYTES;
    const devicePageCount = device.bytes / PAGE_BYTES;
    this.lists = this.arena.ensure(this.lists, 4 * (ramPageCount + devicePageCount + diskList.length) + 16);
    this.pages = this.arena.ensure(this.pages, access.ramBytes + device.bytes + PAGE_BYTES * diskList.length);
    // Growing the memory (first capture, bigger buffers) detached the views into it.
    if (access.memory.buffer !== before) flat = access.readDevices();
    const memory = this.arena.bytes();
    flat.buffers.forEach((array, i) => copyArray(memory.buffer, device.current.offset + (device.offsets[i] as number), array));

    const meta = this.meta.offset;
    new Uint32Array(memory.buffer, meta + DELTA_HEADER_BYTES, device.lengths.length).set(device.lengths);
    const jsonAt = meta + DELTA_HEADER_BYTES + 4 * device.lengths.length;
    const jsonBytes = this.encoder.encodeInto(json, memory.subarray(jsonAt, meta + this.meta.capacity)).written;

    const lists = this.lists.offset;
    const pages = this.pages.offset;
    const ramStart = performance.now();
    const { count: ramPages, tracking } = digests
      ? { count: this.diffFromDigests(digests, lists, pages), tracking: 'scan' as const }
      : this.marks
        ? this.marks.diff(access.ramOffset, this.shadow.offset, lists, pages, options.writeTracking, options.verify)
        : { count: kernels.diffPages(access.ramOffset, this.shadow.offset, ramPageCount, lists, pages), tracking: 'scan' as const };
    const ramCheck = digests ? checksumOf(kernels, memory.buffer, this.lanes.offset, access.ramBytes, [[access.ramOffset, access.ramBytes]]) : 0;
    // The shadow equals RAM again: the next epoch's marks start empty (the VM is stopped).
    this.marks?.arm(true);
    const ramMs = performance.now() - ramStart;
    const devicePages = kernels.diffPages(device.current.offset, device.shadow.offset, devicePageCount, lists + 4 * ramPages, pages + PAGE_BYTES * ramPages);
    const deviceDiffDone = performance.now();
    // The disk lives outside this memory: its written pages are copied in after the others.
    const sent = ramPages + devicePages;
    if (disk) {
      const contents = disk.contents();
      new Uint32Array(memory.buffer, lists + 4 * sent, diskList.length).set(diskList);
      diskList.forEach((page, k) => memory.set(contents.subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES), pages + PAGE_BYTES * (sent + k)));
    }
    const diskDone = performance.now();

    const counts = { bufferCount: device.lengths.length, jsonBytes, ramPages, devicePages, diskPages: diskList.length };
    const layout = deltaLayout(counts);
    // Padding is summed too: it must be zero, not what an earlier capture left there.
    memory.fill(0, jsonAt + jsonBytes, meta + layout.listsOffset);
    const listBytes = layout.pagesOffset - layout.listsOffset;
    memory.fill(0, lists + 4 * (sent + diskList.length), lists + listBytes);
    const header = {
      bytes: layout.bytes,
      checksum: 0,
      checkpoint,
      base: this.base,
      baseRam: onBase,
      ramBytes: access.ramBytes,
      deviceBytes: device.bytes,
      diskBytes: disk?.bytes ?? 0,
      diskWhole: diskWhole ? 1 : 0,
      ramCheck,
      ...counts,
    };
    writeDeltaHeader(new DataView(memory.buffer, meta, DELTA_HEADER_BYTES), header);

    header.checksum = checksumOf(kernels, memory.buffer, this.lanes.offset, layout.bytes, [
      [meta + 16, layout.listsOffset - 16],
      [lists, listBytes],
      [pages, layout.bytes - layout.pagesOffset],
    ]);
    new DataView(memory.buffer, meta).setUint32(12, header.checksum, true);

    const payload = this.take(layout.bytes);
    const out = new Uint8Array(payload);
    out.set(memory.subarray(meta, meta + layout.listsOffset), 0);
    out.set(memory.subarray(lists, lists + listBytes), layout.listsOffset);
    out.set(memory.subarray(pages, pages + layout.bytes - layout.pagesOffset), layout.pagesOffset);

    const base = this.base;
    this.base = checkpoint;
    this.diskWhole = false;
    const parts = {
      devicesMs: ramStart - started,
      ramMs,
      deviceDiffMs: deviceDiffDone - ramStart - ramMs,
      diskMs: diskDone - deviceDiffDone,
      packMs: performance.now() - diskDone,
    };
    return {
      payload,
      bytes: layout.bytes,
      checksum: header.checksum,
      base,
      ramPages,
      devicePages,
      diskPages: disk ? diskList.length : undefined,
      diskWhole,
      tracking,
      parts,
    };
  }

  /**
   * The RAM pages whose digest differs from the snapshot's, listed at `list`
   * and packed at `out`; then the shadow (all zeros: reset) takes all of RAM,
   * which the secondary holds once it applied them.
   */
  private diffFromDigests(digests: BaseDigests, list: number, out: number): number {
    const { ramOffset, ramBytes } = this.access;
    const memory = this.arena.bytes();
    const listed = new Uint32Array(memory.buffer, list, ramBytes / PAGE_BYTES);
    let count = 0;
    for (let page = 0; page < ramBytes / PAGE_BYTES; page++) {
      if (!digests.differs(ramOffset, page)) continue;
      listed[count] = page;
      memory.copyWithin(out + count * PAGE_BYTES, ramOffset + page * PAGE_BYTES, ramOffset + (page + 1) * PAGE_BYTES);
      count++;
    }
    copyOverZeros(memory, ramOffset, this.shadow.offset, ramBytes);
    return count;
  }

  // The device block keeps its layout from one checkpoint to the next; if the
  // buffers ever change size, a new block starts from a zero shadow (all sent).
  private deviceBlock(lengths: number[]): DeviceBlock {
    const known = this.device;
    if (known && sameLayout(known.lengths, lengths)) return known;
    const { offsets, bytes } = deviceBlockLayout(lengths);
    const fits = known && known.current.capacity >= bytes;
    const current = fits ? known.current : this.arena.alloc(bytes);
    const shadow = fits ? known.shadow : this.arena.alloc(bytes);
    const memory = this.arena.bytes();
    memory.fill(0, current.offset, current.offset + bytes);
    memory.fill(0, shadow.offset, shadow.offset + bytes);
    this.device = { lengths, offsets, bytes, current, shadow };
    return this.device;
  }

  private take(bytes: number): ArrayBuffer {
    const limit = Math.max(REUSE_OVERSIZE * bytes, REUSE_FLOOR_BYTES);
    // Oversized buffers leave the pool (the garbage collector frees them).
    for (let i = this.pool.length - 1; i >= 0; i--) if ((this.pool[i] as ArrayBuffer).byteLength > limit) this.pool.splice(i, 1);
    const i = this.pool.findIndex((b) => b.byteLength >= bytes);
    if (i !== -1) return this.pool.splice(i, 1)[0] as ArrayBuffer;
    this.allocations++;
    // Headroom, so a delta a little larger than the last does not allocate again.
    return new ArrayBuffer(Math.ceil((bytes * 1.25) / 65536) * 65536);
  }
}
