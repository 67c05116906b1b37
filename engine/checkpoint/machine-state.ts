// What the delta path needs from a VM: its WebAssembly memory with guest RAM
// in it, and its device state without RAM. engine/vm/v86-state-access.ts
// provides it for v86 (behind a feature check); tests provide fakes.
import type { FlatDevices } from './device-state.ts';

export interface MachineStateAccess {
  /** The memory guest RAM lives in; the delta path allocates its buffers there too. */
  readonly memory: WebAssembly.Memory;
  readonly ramOffset: number;
  readonly ramBytes: number;
  /** CPU and device state without RAM, arrays as live views. The VM must be stopped. */
  readDevices(): FlatDevices;
  /** Loads a CPU and device state (typed arrays already rebuilt); RAM is left as it is. */
  writeDevices(tree: unknown): void;
}
