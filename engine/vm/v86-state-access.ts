// The delta path's view of a v86 instance. It uses internals that v86.d.ts
// does not promise (checked against v86 0.5.462): `v86.cpu` with its
// WebAssembly memory, `mem8` (guest RAM inside that memory), `get_state` /
// `set_state` (the CPU and device state that save_state serialises) and
// `pack_memory` / `unpack_memory` (the RAM part of it, here switched off while
// the rest is read or written), each device's `set_state` (skipped for a
// device the VM holds already), the VGA's `pixel_buffer` (left out) and the
// IDE disk's buffer (left out, its own part of the delta: v86-disk.ts).
// openStateAccess() checks each one and probes the state shape; when anything
// differs it says what, and the engine falls back to v86's public save_state /
// restore_state.
// test/node/v86-internals.test.ts fails when an upgrade breaks an assumption.
import type { V86 } from 'v86';
import { DeviceStateReader } from '../checkpoint/device-state.ts';
import type { MachineStateAccess, WriteTracker } from '../checkpoint/machine-state.ts';
import { openV86Disk } from './v86-disk.ts';

interface CpuInternals {
  devices?: {
    uart0?: unknown;
    uart1?: unknown;
    uart2?: unknown;
    uart3?: unknown;
    vga?: { pixel_buffer?: unknown };
    ide?: { primary?: { master?: { buffer?: { byteLength?: unknown; set?: unknown } } } };
  };
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

type WithoutRam = <T>(body: () => T) => T;
const ramSwitches = new WeakMap<object, WithoutRam>();

/**
 * Runs `body` with the CPU's pack_memory and unpack_memory leaving RAM out.
 * Installed once per CPU as own methods that ask a flag: replacing and
 * deleting a property at every checkpoint would turn v86's CPU object into a
 * slow dictionary-mode object in V8.
 */
function withoutRam(cpu: CpuInternals): WithoutRam {
  const known = ramSwitches.get(cpu);
  if (known) return known;
  const pack = cpu.pack_memory as (this: unknown) => unknown;
  const unpack = cpu.unpack_memory as (this: unknown, ...args: unknown[]) => void;
  let skipping = false;
  cpu.pack_memory = function (this: unknown) {
    return skipping ? NO_RAM : pack.call(this);
  };
  cpu.unpack_memory = function (this: unknown, ...args: unknown[]) {
    if (!skipping) unpack.apply(this, args);
  };
  const run: WithoutRam = (body) => {
    skipping = true;
    try {
      return body();
    } finally {
      skipping = false;
    }
  };
  ramSwitches.set(cpu, run);
  return run;
}

type Load = (tree: unknown, held: ReadonlySet<number>) => void;
const loaders = new WeakMap<object, Load>();

/**
 * Loads a state with `cpu.set_state`, skipping the devices at the `held`
 * indices of the state. Each device's set_state is wrapped once (an own
 * method that asks a set); a device whose object cannot take one is always
 * loaded, and so is a UART: the client's input, refilled after every load,
 * writes its registers behind the last load, so "unchanged since the last
 * load" does not mean "as the VM holds it". `probe`: the state as get_state
 * returns it, devices as objects.
 */
function deviceLoader(cpu: CpuInternals, probe: unknown[]): Load {
  const known = loaders.get(cpu);
  if (known) return known;
  const setState = cpu.set_state as (this: unknown, state: unknown) => void;
  const skipping = new Set<object>();
  const devices = new Map<number, object>();
  const d = cpu.devices;
  const uarts = new Set([d?.uart0, d?.uart1, d?.uart2, d?.uart3].filter(Boolean));
  probe.forEach((entry, index) => {
    if (typeof entry !== 'object' || entry === null || !Object.isExtensible(entry) || uarts.has(entry)) return;
    const device = entry as { set_state?: unknown };
    if (typeof device.set_state !== 'function') return;
    const load = device.set_state as (this: unknown, ...args: unknown[]) => void;
    device.set_state = function (this: object, ...args: unknown[]) {
      if (!skipping.has(this)) load.apply(this, args);
    };
    devices.set(index, device);
  });
  const run: Load = (tree, held) => {
    for (const index of held) {
      const device = devices.get(index);
      if (device) skipping.add(device);
    }
    try {
      setState.call(cpu, tree);
    } finally {
      skipping.clear();
    }
  };
  loaders.set(cpu, run);
  return run;
}

export function openStateAccess(
  emulator: V86,
  ramBytes: number,
  diskBytes: number,
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
  // The VGA's pixel buffer (512 KiB) is a drawing cache of its planes: v86
  // loads it only if present and redraws it from the planes on every load
  // (src/vga.js set_state, complete_replot). Not sending it takes it out of
  // every checkpoint's copy and compare.
  const pixels = cpu.devices?.vga?.pixel_buffer;
  // The disk travels as the delta's disk part (engine/vm/v86-disk.ts).
  const disk = openV86Disk(cpu, diskBytes);
  const devices = new DeviceStateReader(new Set([...(pixels instanceof Uint8Array ? [pixels] : []), ...(disk ? [disk.stateObject] : [])]));
  const noRam = withoutRam(cpu);
  // The state must still be the array whose RAM lives at the indices above.
  const probe = noRam(() => getState.call(cpu));
  const packed = probe[STATE_PACKED_MEMORY];
  const bitmap = probe[STATE_MEMORY_BITMAP];
  if (
    probe[STATE_MEMORY_SIZE] !== ramBytes ||
    !(packed instanceof Uint8Array) ||
    packed.length !== 0 ||
    !(bitmap instanceof Uint8Array) ||
    bitmap.length !== 0
  ) {
    return { unavailable: 'v86 cpu.get_state no longer has memory size at [0] and packed RAM at [77], [78]' };
  }
  const load = deviceLoader(cpu, probe);
  return {
    memory,
    ramOffset: mem8.byteOffset,
    ramBytes,
    readDevices: () => noRam(() => devices.read(cpu)),
    writeDevices: (tree, held = new Set()) => noRam(() => load(tree, held)),
    writes: trackerFor(mem8.byteOffset),
    disk: disk?.disk,
  };
}
