// The secondary's side of a delta checkpoint. stage() checks a received delta
// in full (header, page lists, checksum, device skeleton) without touching the
// VM; apply() writes it into the stopped VM and either finishes or puts back
// exactly what it overwrote, so the VM always holds a whole checkpoint.
// In compare mode the secondary runs between checkpoints; before the next one
// applies, the pages it wrote go back to the checkpoint's copy: those the VM
// marked, where it tracks its writes, else every page that differs.
// A secondary built from the booted snapshot holds the shared base: a first
// delta may then carry only the RAM pages that differ from that snapshot. One
// whose pages the primary chose by their digests carries the checksum of all
// of RAM too: a result that differs is put back, and the VM holds the base.
// The disk part is applied the same way, with undo; in compare mode the disk
// pages the secondary wrote go back first (the VM kept them as they were).
import { checkDelta, deltaLayout, deviceBlockLayout, DELTA_HEADER_BYTES, hex, MAX_DEVICE_BLOCK_BYTES, sameLayout, type DeltaHeader } from './delta-format.ts';
import { rebuildDevices, sameEntries } from './device-state.ts';
import { bindKernels, checksumOf, PAGE_BYTES, type Kernels } from './kernels.ts';
import type { MachineStateAccess } from './machine-state.ts';
import { copyOverZeros } from './sparse-pages.ts';
import { WasmArena, type Region } from './wasm-arena.ts';
import { WriteMarks, type Tracking } from './write-marks.ts';

interface DeviceMirror {
  lengths: number[];
  offsets: number[];
  block: Uint8Array;
  /** Each buffer's own ArrayBuffer, the arrays the VM is handed (rebuildOver), kept from load to load. */
  own: Uint8Array[];
}

interface Staged {
  header: DeltaHeader;
  tree: unknown;
  lengths: number[];
}

export class DeltaApplier {
  private readonly arena: WasmArena;
  private readonly kernels: Kernels;
  private readonly lanes: Region;
  private staging: Region | undefined;
  private undo: Region | undefined;
  private undoDevice = new Uint8Array(0);
  private undoDisk = new Uint8Array(0);
  private mirror: DeviceMirror | undefined;
  private tree: unknown;
  private staged: Staged | undefined;
  /** Compare mode: RAM as of the checkpoint held, to undo what the running secondary wrote. */
  private ramShadow: Region | undefined;
  private shadowValid = false;
  private revertList: Region | undefined;
  private revertOut: Region | undefined;
  /** Compare mode with write tracking: the pages the running secondary wrote since its last load (made on first use). */
  private marks: WriteMarks | null | undefined;
  /** How the last revert found the secondary's writes. */
  lastRevert: { tracking: Tracking; pages: number; diskPages?: number } | undefined;
  /** The checkpoint the VM holds whole (0: none yet). */
  holds = 0;
  /** While the VM's RAM is still the booted snapshot's (built from it, nothing loaded or run since): that RAM's checksum. */
  private baseRam: number | undefined;

  constructor(private readonly access: MachineStateAccess) {
    this.arena = new WasmArena(access.memory);
    this.kernels = bindKernels(access.memory);
    this.lanes = this.arena.alloc(16);
  }

  /** A new primary: the VM holds nothing it could build on. */
  reset(): void {
    this.holds = 0;
    this.baseRam = undefined;
    this.staged = undefined;
    this.shadowValid = false;
    this.marks?.invalidate();
  }

  /**
   * The VM was just built from the booted snapshot and has not run: a delta may
   * build on it. Returns its RAM's checksum (the primary's capture names the
   * same RAM the same way), read in place: the secondary keeps no copy of it.
   */
  adoptBase(): number {
    this.reset();
    const { ramOffset, ramBytes } = this.access;
    this.baseRam = checksumOf(this.kernels, this.arena.bytes().buffer, this.lanes.offset, ramBytes, [[ramOffset, ramBytes]]);
    return this.baseRam;
  }

  /** The shared base's RAM checksum while the VM's RAM is still exactly it. */
  get heldBase(): number | undefined {
    return this.baseRam;
  }

  /** The VM is about to run between checkpoints (compare mode): keep a copy of the checkpoint it holds, and start marking its writes. */
  keepShadow(): void {
    if (this.holds === 0) return;
    if (!this.shadowValid) {
      const fresh = this.ramShadow === undefined;
      this.ramShadow = this.arena.ensure(this.ramShadow, this.access.ramBytes);
      const view = this.arena.bytes();
      const { ramOffset, ramBytes } = this.access;
      // A fresh region is all zeros: RAM's zero pages need no copy, and stay unbacked.
      if (fresh) copyOverZeros(view, ramOffset, this.ramShadow.offset, ramBytes);
      else view.copyWithin(this.ramShadow.offset, ramOffset, ramOffset + ramBytes);
      this.shadowValid = true;
    }
    // Right after a load RAM equals the copy and the marks start empty (after
    // every load they are invalid); a VM started again keeps what it marked.
    if (this.marks === undefined) this.marks = WriteMarks.open(this.access, this.arena, this.kernels, this.access.ramBytes / PAGE_BYTES) ?? null;
    this.marks?.arm(false);
  }

  discard(): void {
    this.staged = undefined;
  }

  /** `checkpoint`: the number vmstate-size gave it; the delta's own header must say the same. */
  stage(payload: ArrayBuffer, announced: number, checkpoint: number): 'ok' | { error: string } {
    this.staged = undefined;
    // Every RAM page, the whole device block and the whole disk, with room for the lists.
    const diskBytes = this.access.disk?.bytes ?? 0;
    const limit = 2 * (this.access.ramBytes + diskBytes) + MAX_DEVICE_BLOCK_BYTES;
    if (announced > limit) return { error: `oversized: vmstate-size announced ${announced} bytes, more than the ${limit} a delta of this machine can take` };
    const header = checkDelta(payload, { announced, ramBytes: this.access.ramBytes, diskBytes, holds: this.holds, baseRam: this.baseRam, checkpoint });
    if ('error' in header) return header;
    this.staging = this.arena.ensure(this.staging, header.bytes);
    const memory = this.arena.bytes();
    const at = this.staging.offset;
    memory.set(new Uint8Array(payload, 0, header.bytes), at);
    const sum = checksumOf(this.kernels, memory.buffer, this.lanes.offset, header.bytes, [[at + 16, header.bytes - 16]]);
    if (sum !== header.checksum) {
      return { error: `checksum mismatch: computed ${sum.toString(16)}, announced ${header.checksum.toString(16)}` };
    }
    const lengths = [...new Uint32Array(payload, DELTA_HEADER_BYTES, header.bufferCount)];
    let tree: unknown;
    try {
      tree = JSON.parse(decoder.decode(new Uint8Array(payload, DELTA_HEADER_BYTES + 4 * header.bufferCount, header.jsonBytes)));
      if (!Array.isArray(tree)) throw new Error('it is not the CPU state array v86 saves');
      // A dry run: every buffer the skeleton names exists and holds whole elements.
      rebuildDevices(tree, (id) => {
        if (!Number.isInteger(id) || id < 0 || id >= lengths.length) throw new Error(`names buffer ${id} of ${lengths.length}`);
        return emptyOf(lengths[id] as number);
      });
    } catch (err) {
      return { error: `device state is corrupt: ${(err as Error).message}` };
    }
    this.staged = { header, tree, lengths };
    return 'ok';
  }

  /**
   * Writes the staged delta into the stopped VM; throws with the VM still at
   * `holds`. `diverged`: the VM ran since it was loaded (compare mode), so the
   * pages it wrote go back to the checkpoint first. `verify`: after undoing
   * them from the write marks, compare all of RAM too and fail naming a page
   * the marks missed.
   */
  apply(diverged = false, verify = false): void {
    const staged = this.staged;
    if (!staged) throw new Error('nothing staged');
    this.staged = undefined;
    const { header, lengths } = staged;
    const layout = deltaLayout(header);
    // On the shared base, RAM builds on what the VM holds; the devices start from nothing.
    const onBase = header.baseRam !== 0;
    const fromNothing = header.base === 0 && !onBase;
    const freshDevices = header.base === 0;
    const { ramOffset, ramBytes } = this.access;
    if (diverged && !fromNothing && !this.shadowValid) throw new Error('the secondary ran without a copy of the checkpoint it held');
    // Grow first: growing the memory detaches every view taken before.
    if (!fromNothing) this.undo = this.arena.ensure(this.undo, header.ramPages * PAGE_BYTES);
    if (diverged && !fromNothing) {
      this.revertList = this.arena.ensure(this.revertList, 4 * (ramBytes / PAGE_BYTES));
      this.revertOut = this.arena.ensure(this.revertOut, ramBytes);
    }
    const view = this.arena.bytes();
    const src = (this.staging as Region).offset;
    const list = new Uint32Array(view.buffer, src + layout.listsOffset, header.ramPages + header.devicePages + header.diskPages);
    const shadow = this.shadowValid ? (this.ramShadow as Region).offset : undefined;

    // The disk pages the VM wrote since its last load go back first, as they were (it ran: compare mode); else there are none to keep.
    const { disk } = this.access;
    let diskReverted: number | undefined;
    if (diverged) diskReverted = disk?.revertWritten();
    else disk?.takeWritten();
    if (fromNothing) {
      view.fill(0, ramOffset, ramOffset + ramBytes);
      if (shadow !== undefined) view.fill(0, shadow, shadow + ramBytes);
    } else if (diverged && shadow !== undefined) {
      // The same kernels, roles swapped: pages of RAM that differ from the
      // checkpoint's copy are copied back; only the marked ones where the
      // marks cover everything the VM wrote since it started.
      const revertList = (this.revertList as Region).offset;
      const revertOut = (this.revertOut as Region).offset;
      const { count, tracking } = this.marks
        ? this.marks.diff(shadow, ramOffset, revertList, revertOut, true, verify)
        : { count: this.kernels.diffPages(shadow, ramOffset, ramBytes / PAGE_BYTES, revertList, revertOut), tracking: 'scan' as const };
      this.lastRevert = { tracking, pages: count, ...(diskReverted !== undefined ? { diskPages: diskReverted } : {}) };
    }
    // What is written next (this load) is not the VM's own writing: no marks see it.
    this.marks?.invalidate();
    const { writes } = this.access;
    if (!('unavailable' in writes)) writes.wroteBehind();
    // Whatever happens next, the RAM is no longer the booted snapshot's alone.
    this.baseRam = undefined;
    // RAM: remember each page's old contents, then overwrite it (and its copy).
    for (let i = 0; i < header.ramPages; i++) {
      const page = (list[i] as number) * PAGE_BYTES;
      const from = src + layout.pagesOffset + i * PAGE_BYTES;
      if (!fromNothing) view.copyWithin((this.undo as Region).offset + i * PAGE_BYTES, ramOffset + page, ramOffset + page + PAGE_BYTES);
      view.copyWithin(ramOffset + page, from, from + PAGE_BYTES);
      if (shadow !== undefined) view.copyWithin(shadow + page, from, from + PAGE_BYTES);
    }

    if (header.ramCheck !== 0) this.checkRam(header, list, fromNothing);

    this.writeDisk(header, list, layout.pagesOffset);

    // Device block: same, in the mirror the device arrays are rebuilt over. A
    // new pair or new buffer sizes start from a zero block, as the primary's
    // shadow did, so only its non-zero pages came.
    const previousMirror = this.mirror;
    const patchInPlace = !freshDevices && previousMirror !== undefined && sameLayout(previousMirror.lengths, lengths);
    const mirror = patchInPlace ? previousMirror : newMirror(lengths);
    if (patchInPlace && this.undoDevice.byteLength < header.devicePages * PAGE_BYTES) this.undoDevice = new Uint8Array(header.devicePages * PAGE_BYTES);
    for (let j = 0; j < header.devicePages; j++) {
      const at = (list[header.ramPages + j] as number) * PAGE_BYTES;
      const from = src + layout.pagesOffset + (header.ramPages + j) * PAGE_BYTES;
      if (patchInPlace) this.undoDevice.set(mirror.block.subarray(at, at + PAGE_BYTES), j * PAGE_BYTES);
      mirror.block.set(view.subarray(from, from + PAGE_BYTES), at);
    }

    // What the VM holds already need not be loaded again (v86's VGA alone took
    // ~0.7 ms of every load redrawing its text screen): the entries equal to
    // the last load, when the VM has not run since.
    const held =
      patchInPlace && !diverged && Array.isArray(this.tree)
        ? sameEntries(
            staged.tree as unknown[],
            this.tree,
            changedBuffers(mirror, list.subarray(header.ramPages, header.ramPages + header.devicePages), this.undoDevice),
          )
        : undefined;
    try {
      this.access.writeDevices(rebuildOver(staged.tree, mirror, held), held);
    } catch (err) {
      this.rollBack(header, list, patchInPlace ? mirror : previousMirror, patchInPlace);
      throw new Error(
        `v86 refused the device state of checkpoint ${header.checkpoint} (${(err as Error).message}); the VM still holds checkpoint ${this.holds}`,
      );
    }
    this.mirror = mirror;
    this.tree = staged.tree;
    this.holds = header.checkpoint;
  }

  /** All of RAM must have the checksum the primary's had: else the pages just written go back, and the VM holds what it held. */
  private checkRam(header: DeltaHeader, list: Uint32Array, fromNothing: boolean): void {
    const { ramOffset, ramBytes } = this.access;
    const view = this.arena.bytes();
    const sum = checksumOf(this.kernels, view.buffer, this.lanes.offset, ramBytes, [[ramOffset, ramBytes]]);
    if (sum === header.ramCheck) return;
    if (!fromNothing) this.undoRam(header.ramPages, list);
    if (header.baseRam !== 0) this.baseRam = header.baseRam;
    const holds = this.baseRam !== undefined ? 'the booted snapshot' : this.holds > 0 ? `checkpoint ${this.holds}` : 'nothing whole';
    throw new Error(
      `checkpoint ${header.checkpoint} does not give the primary's RAM (checksum ${hex(sum)}, the primary's ${hex(header.ramCheck)}): not loaded, the VM holds ${holds}`,
    );
  }

  /** Puts back the first `pages` RAM pages of `list` from the undo copy (and into the compare-mode copy, if kept). */
  private undoRam(pages: number, list: Uint32Array): void {
    const view = this.arena.bytes();
    const { ramOffset } = this.access;
    const shadow = this.shadowValid ? (this.ramShadow as Region).offset : undefined;
    for (let i = 0; i < pages; i++) {
      const page = (list[i] as number) * PAGE_BYTES;
      const from = (this.undo as Region).offset + i * PAGE_BYTES;
      view.copyWithin(ramOffset + page, from, from + PAGE_BYTES);
      if (shadow !== undefined) view.copyWithin(shadow + page, from, from + PAGE_BYTES);
    }
  }

  /** The disk part: each page's old contents kept (where a rollback could use them), then overwritten. */
  private writeDisk(header: DeltaHeader, list: Uint32Array, pagesOffset: number): void {
    const { disk } = this.access;
    if (!disk) return;
    const contents = disk.contents();
    const view = this.arena.bytes();
    const first = header.ramPages + header.devicePages;
    const keepUndo = header.base !== 0;
    const undoBytes = header.diskWhole ? disk.bytes : header.diskPages * PAGE_BYTES;
    if (keepUndo && this.undoDisk.byteLength < undoBytes) this.undoDisk = new Uint8Array(undoBytes);
    if (header.diskWhole) {
      if (keepUndo) this.undoDisk.set(contents);
      contents.fill(0);
    }
    for (let k = 0; k < header.diskPages; k++) {
      const at = (list[first + k] as number) * PAGE_BYTES;
      if (keepUndo && !header.diskWhole) this.undoDisk.set(contents.subarray(at, at + PAGE_BYTES), k * PAGE_BYTES);
      const from = (this.staging as Region).offset + pagesOffset + (first + k) * PAGE_BYTES;
      contents.set(view.subarray(from, from + PAGE_BYTES), at);
    }
  }

  private rollBack(header: DeltaHeader, list: Uint32Array, mirror: DeviceMirror | undefined, patchedInPlace: boolean): void {
    if (header.base === 0 || !mirror) return; // nothing whole to go back to
    const { disk } = this.access;
    if (disk && header.diskWhole) disk.contents().set(this.undoDisk.subarray(0, disk.bytes));
    else if (disk) {
      const contents = disk.contents();
      const first = header.ramPages + header.devicePages;
      for (let k = 0; k < header.diskPages; k++)
        contents.set(this.undoDisk.subarray(k * PAGE_BYTES, (k + 1) * PAGE_BYTES), (list[first + k] as number) * PAGE_BYTES);
    }
    this.undoRam(header.ramPages, list);
    if (patchedInPlace) {
      for (let j = 0; j < header.devicePages; j++) {
        mirror.block.set(this.undoDevice.subarray(j * PAGE_BYTES, (j + 1) * PAGE_BYTES), (list[header.ramPages + j] as number) * PAGE_BYTES);
      }
    }
    this.access.writeDevices(rebuildOver(this.tree, mirror));
  }
}

/**
 * The device buffers whose bytes changed in the device block pages `pages`
 * (patched in the mirror; their old contents in `before`, page by page). A
 * page holds many small buffers: each is compared on its own.
 */
function changedBuffers(mirror: DeviceMirror, pages: Uint32Array, before: Uint8Array): Set<number> {
  const ids = new Set<number>();
  pages.forEach((page, j) => {
    const start = page * PAGE_BYTES;
    mirror.offsets.forEach((offset, id) => {
      const from = Math.max(offset, start);
      const to = Math.min(offset + (mirror.lengths[id] as number), start + PAGE_BYTES);
      if (from >= to || ids.has(id)) return;
      if (!sameBytes(before, j * PAGE_BYTES + from - start, mirror.block, from, to - from)) ids.add(id);
    });
  });
  return ids;
}

/** Whether `length` bytes of `a` at `atA` equal those of `b` at `atB` (a plain loop: `every` with a closure took ~74 µs per 4 KiB, this ~3). */
function sameBytes(a: Uint8Array, atA: number, b: Uint8Array, atB: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[atA + k] !== b[atB + k]) return false;
  return true;
}

function newMirror(lengths: number[]): DeviceMirror {
  const { offsets, bytes } = deviceBlockLayout(lengths);
  return { lengths, offsets, block: new Uint8Array(bytes), own: lengths.map((length) => new Uint8Array(length)) };
}

/**
 * The state to load, each array in an ArrayBuffer of its own, as v86's
 * restore gives them (src/state.js slices them apart): its devices rely on
 * it (the IDE keeps `data` and views all of `data.buffer` as 16 and 32 bits:
 * over the mirror its PIO read garbage and a rebooted guest found no disk;
 * the SB16 likewise), and a device that keeps an array and runs must not
 * write into the mirror, which stays the checkpoint's. The buffers are the
 * mirror's own, filled again at each load (no garbage per checkpoint); those
 * of entries the VM holds already (`held`, not loaded, the VM has not run)
 * hold their bytes from the last load still.
 */
function rebuildOver(tree: unknown, mirror: DeviceMirror, held: ReadonlySet<number> = new Set()): unknown {
  const arrays = (fill: boolean) => (id: number) => {
    const own = mirror.own[id] as Uint8Array;
    if (fill) {
      const offset = mirror.offsets[id] as number;
      own.set(mirror.block.subarray(offset, offset + own.byteLength));
    }
    return own;
  };
  if (!Array.isArray(tree) || held.size === 0) return rebuildDevices(tree, arrays(true));
  return tree.map((entry, i) => rebuildDevices(entry, arrays(!held.has(i))));
}

const decoder = new TextDecoder();

let empty = new Uint8Array(0);
function emptyOf(length: number): Uint8Array {
  if (empty.byteLength < length) empty = new Uint8Array(length);
  return empty.subarray(0, length);
}
