// What the delta path needs from a VM: its WebAssembly memory with guest RAM
// in it, and its device state without RAM. engine/vm/v86-state-access.ts
// provides it for v86 (behind a feature check); tests provide fakes.
import type { FlatDevices } from './device-state.ts';

/**
 * The guest's writes to RAM, tracked inside the VM (engine/vm/write-tracking.ts):
 * each written page marks its byte in a map the delta path owns.
 */
export interface WriteTracker {
  /** From now on, writes mark the byte map at `map` (in `memory`, one byte per RAM page); another map than before counts in `untrackedWrites`. */
  attach(map: number): void;
  /** Every page's next write marks again. The VM must be stopped. */
  rearm(): void;
  /**
   * Grows whenever guest RAM was written where the tracking cannot see (a
   * restore, a delta load), and when the marks go to another map: marks made
   * before no longer tell all that changed.
   */
  readonly untrackedWrites: number;
  /** RAM was written behind the tracking: the delta path loaded a checkpoint straight into it. */
  wroteBehind(): void;
}

/**
 * The guest's disk, as the delta path sees it: its contents and the pages
 * (PAGE_BYTES each) the guest wrote, seen where the VM stores them.
 */
export interface GuestDisk {
  readonly bytes: number;
  /** The contents, live. A full load may give the VM a new buffer: ask again each time. */
  contents(): Uint8Array;
  /** The pages the guest wrote since the last take or revert, ascending; forgets them. */
  takeWritten(): number[];
  /** Puts back what the guest wrote since the last take or revert (each page as before its first write), forgets it; returns how many pages. */
  revertWritten(): number;
  /** Grows whenever a whole disk was loaded (a full state): the marks say nothing of what that changed. */
  readonly wholeLoads: number;
}

export interface MachineStateAccess {
  /** The memory guest RAM lives in; the delta path allocates its buffers there too. */
  readonly memory: WebAssembly.Memory;
  readonly ramOffset: number;
  readonly ramBytes: number;
  /** CPU and device state without RAM, arrays as live views. The VM must be stopped. */
  readDevices(): FlatDevices;
  /**
   * Loads a CPU and device state (typed arrays already rebuilt); RAM is left as
   * it is. `held`: top-level entries the VM holds exactly as they are (loaded
   * last time, and it has not run since): the VM may skip loading them again.
   */
  writeDevices(tree: unknown, held?: ReadonlySet<number>): void;
  /** Write tracking, or why this VM has none (the delta path then compares all of RAM). */
  readonly writes: WriteTracker | { unavailable: string };
  /** The guest's disk, where the VM has one: it travels as the delta's disk part, not in the device state. */
  readonly disk?: GuestDisk | undefined;
}
