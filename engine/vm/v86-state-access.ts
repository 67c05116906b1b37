// The delta path's view of a v86 instance. It uses internals that v86.d.ts
// does not promise (checked against v86 0.5.462): `v86.cpu` with its
// WebAssembly memory, `mem8` (guest RAM inside that memory), `get_state` /
// `set_state` (the CPU and device state that save_state serialises) and
// `pack_memory` / `unpack_memory` (the RAM part of it, here switched off while
// the rest is read or written). openStateAccess() checks each one and probes
// the state shape; when anything differs it says what, and the engine falls
// back to v86's public save_state / restore_state.
// test/node/v86-internals.test.ts fails when an upgrade breaks an assumption.
import type { V86 } from 'v86';
import { flattenDevices } from '../checkpoint/device-state.ts';
import type { MachineStateAccess, WriteTracker } from '../checkpoint/machine-state.ts';

interface CpuInternals {
  wasm_memory?: unknown;
  mem8?: { byteOffset?: unknown; length?: unknown; buffer?: unknown };
  get_state?: unknown;
  set_state?: unknown;
  pack_memory?: unknown;
  unpack_memory?: unknown;
}

// Indices in v86's CPU state array (src/cpu.js get_state).
const STATE_MEMORY_SIZE = 0;
const STATE_PACKED_MEMORY = 77;
const STATE_MEMORY_BITMAP = 78;

const NO_RAM = { bitmap: { get_buffer: () => new ArrayBuffer(0) }, packed_memory: new Uint8Array(0) };

/** Runs `body` with `object[name]` replaced, then puts back exactly what was there. */
function withReplaced<T>(object: object, name: string, replacement: unknown, body: () => T): T {
  const own = Object.getOwnPropertyDescriptor(object, name);
  Object.defineProperty(object, name, { value: replacement, configurable: true, writable: true });
  try {
    return body();
  } finally {
    if (own) Object.defineProperty(object, name, own);
    else Reflect.deleteProperty(object, name);
  }
}

export function openStateAccess(
  emulator: V86,
  ramBytes: number,
  trackerFor: (ramOffset: number) => WriteTracker | { unavailable: string },
): MachineStateAccess | { unavailable: string } {
  const cpu = (emulator as unknown as { v86?: { cpu?: CpuInternals } }).v86?.cpu;
  if (!cpu) return { unavailable: 'v86 has no v86.cpu' };
  const missing = (['get_state', 'set_state', 'pack_memory', 'unpack_memory'] as const).filter((name) => typeof cpu[name] !== 'function');
  if (missing.length > 0) return { unavailable: `v86 cpu lacks ${missing.join(', ')}` };
  const memory = cpu.wasm_memory;
  if (!(memory instanceof WebAssembly.Memory)) return { unavailable: 'v86 cpu.wasm_memory is not a WebAssembly.Memory' };
  const mem8 = cpu.mem8;
  if (!mem8 || mem8.buffer !== memory.buffer || typeof mem8.byteOffset !== 'number' || mem8.length !== ramBytes || mem8.byteOffset % 4096 !== 0) {
    return { unavailable: `v86 cpu.mem8 is not the guest's ${ramBytes} bytes of RAM inside cpu.wasm_memory, 4 KiB aligned` };
  }
  const getState = cpu.get_state as () => unknown[];
  const setState = cpu.set_state as (state: unknown) => void;
  const access: MachineStateAccess = {
    memory,
    ramOffset: mem8.byteOffset,
    ramBytes,
    readDevices: () => withReplaced(cpu, 'pack_memory', () => NO_RAM, () => flattenDevices(cpu)),
    writeDevices: (tree) => withReplaced(cpu, 'unpack_memory', () => {}, () => setState.call(cpu, tree)),
    writes: trackerFor(mem8.byteOffset),
  };
  // The state must still be the array whose RAM lives at the indices above.
  const probe = withReplaced(cpu, 'pack_memory', () => NO_RAM, () => getState.call(cpu));
  const packed = probe[STATE_PACKED_MEMORY];
  const bitmap = probe[STATE_MEMORY_BITMAP];
  if (probe[STATE_MEMORY_SIZE] !== ramBytes || !(packed instanceof Uint8Array) || packed.length !== 0 || !(bitmap instanceof Uint8Array) || bitmap.length !== 0) {
    return { unavailable: 'v86 cpu.get_state no longer has memory size at [0] and packed RAM at [77], [78]' };
  }
  return access;
}
