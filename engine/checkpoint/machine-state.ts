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

/** The guest's writes to its disk, counted where the VM stores them. */
export interface DiskWrites {
  readonly pageBytes: number;
  /** Pages of the disk written since the last call (each once, however often). */
  takeWritten(): number;
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
  /** The guest disk's writes, where the VM has a disk. */
  readonly disk?: DiskWrites | undefined;
}
