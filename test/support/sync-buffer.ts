// v86's SyncBuffer as it is (v86 0.5.462 src/buffer.js): an IDE disk's
// contents in one ArrayBuffer, written through `set`, saved and loaded whole.
// Fakes of a guest's disk are built on it, so the engine's wrapper of the real
// one (engine/vm/v86-disk.ts) runs on them unchanged.
import type { V86Disk } from '../../engine/vm/v86-disk.ts';
import { openV86Disk } from '../../engine/vm/v86-disk.ts';

export class SyncBuffer {
  buffer: ArrayBuffer;
  constructor(public byteLength: number) {
    this.buffer = new ArrayBuffer(byteLength);
  }
  set(start: number, slice: Uint8Array, done: () => void): void {
    new Uint8Array(this.buffer, start, slice.byteLength).set(slice);
    done();
  }
  get_state(): unknown[] {
    return [this.byteLength, new Uint8Array(this.buffer)];
  }
  set_state(state: [number, Uint8Array]): void {
    this.byteLength = state[0];
    this.buffer = state[1].slice().buffer;
  }
}

/** The engine's view of `sync` as the first IDE disk of a v86 CPU. */
export function openDisk(sync: SyncBuffer): V86Disk {
  const opened = openV86Disk({ devices: { ide: { primary: { master: { buffer: sync } } } } }, sync.byteLength);
  if (!opened) throw new Error('the fake disk was not taken for a v86 disk');
  return opened;
}
