// The engine uses v86 internals that v86.d.ts does not promise. These tests
// fail when a v86 upgrade takes one away or changes what it means, before
// anything subtler breaks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { V86 } from 'v86';
import { afterAll, expect, it } from 'vitest';
import { DeltaApplier } from '../../engine/checkpoint/delta-apply.ts';
import { DeltaCapture, type CapturedDelta } from '../../engine/checkpoint/delta-capture.ts';
import { checkDelta, deltaLayout } from '../../engine/checkpoint/delta-format.ts';
import { PAGE_BYTES } from '../../engine/checkpoint/kernels.ts';
import type { MachineStateAccess } from '../../engine/checkpoint/machine-state.ts';
import type { V86Internals } from '../../engine/vm/machine.ts';
import { idleWithoutSpinning, stopPromptly, type V86Loop } from '../../engine/vm/v86-loop.ts';
import { openStateAccess } from '../../engine/vm/v86-state-access.ts';
import { WRITTEN_BEFORE_RUNNING, zeroSparselyOnce } from '../../engine/vm/v86-sparse-zero.ts';
import { keepTscExact } from '../../engine/vm/v86-tsc.ts';
import { loadStateInPlace } from '../../engine/vm/v86-state-load.ts';
import { StateError } from '../../engine/vm/state-header.ts';
import { ASSETS_DIR } from '../support/assets.ts';

const MEMORY_BYTES = 32 * 1024 * 1024;
const emulators: V86[] = [];
afterAll(async () => {
  for (const e of emulators) await e.destroy();
});

async function bootBios(): Promise<V86> {
  const file = (name: string) => {
    const bytes = readFileSync(join(ASSETS_DIR, name));
    return { buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
  };
  const emulator = new V86({
    wasm_path: join(import.meta.dirname, '..', '..', 'node_modules', 'v86', 'build', 'v86.wasm'),
    memory_size: MEMORY_BYTES,
    bios: file('seabios.bin'),
    vga_bios: file('vgabios-stdvga.bin'),
    uart1: true,
    autostart: false,
  });
  emulators.push(emulator);
  await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
  return emulator;
}

/** A VM whose BIOS ran until it printed (its PCI devices set up), stopped; its state then, and its RAM. */
async function biosPrinted(): Promise<{ emulator: V86; state: ArrayBuffer; ram: Uint8Array }> {
  const emulator = await bootBios();
  await emulator.run();
  await new Promise<void>((resolve) => emulator.add_listener('screen-put-char', () => resolve()));
  await emulator.stop();
  const ram = (emulator as unknown as { v86: { cpu: { mem8: Uint8Array } } }).v86.cpu.mem8;
  return { emulator, state: await emulator.save_state(), ram };
}

/**
 * v86's own save_state, split into its JSON info and buffers. Left out: the
 * TSC (it follows the wall clock) and the NIC's MAC and PROM (each instance
 * keeps its own, with v86's restore_state as well).
 */
function publicState(state: ArrayBuffer): { info: unknown; buffers: string[] } {
  const view = new DataView(state);
  const infoLength = view.getInt32(12, true);
  const parsed = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, infoLength))) as {
    state: unknown[];
    buffer_infos: { offset: number; length: number }[];
  };
  const start = (16 + infoLength + 3) & ~3;
  const nic = parsed.state[59] as unknown[];
  const skipped = [parsed.state[43], nic[15], nic[16]].map((node) => (node as { buffer_id: number }).buffer_id);
  delete parsed.state[43];
  delete nic[15];
  delete nic[16];
  const buffers = parsed.buffer_infos
    .filter((_, id) => !skipped.includes(id))
    .map(({ offset, length }) => Buffer.from(new Uint8Array(state, start + offset, length)).toString('base64'));
  return { info: parsed.state, buffers };
}

it('v86 still has the internals the adapter relies on', async () => {
  const internals = (await bootBios()) as unknown as V86Internals;
  expect(typeof internals.screen_adapter?.get_text_screen).toBe('function');
  expect(typeof internals.v86?.next_tick).toBe('function');
  // Compare mode refills the client's port after a load: its unread input is a plain array.
  const uart = internals.v86?.cpu?.devices?.uart1;
  expect(Array.isArray(uart?.input)).toBe(true);
  expect(typeof uart?.data_received).toBe('function');
});

// v86's set_tsc adds the TSC offset it had before: without keepTscExact the
// TSC after a load is off by seconds, the sign flipping at every load (a
// secondary that resumed behind found its guest's clock stopped).
it('a loaded state resumes the TSC where it was saved, however many states the VM loaded before', async () => {
  const emulator = await bootBios();
  expect(keepTscExact(emulator)).toBeUndefined();
  // A state v86 restores (its PCI devices set up by the BIOS).
  await emulator.run();
  await new Promise<void>((resolve) => emulator.add_listener('screen-put-char', () => resolve()));
  await emulator.stop();
  const cpu = (emulator as unknown as { v86: { cpu: { store_current_tsc(): void; set_tsc(low: number, high: number): void; current_tsc: ArrayLike<number> } } })
    .v86.cpu;
  const tsc = () => {
    cpu.store_current_tsc();
    return (cpu.current_tsc[0] as number) + (cpu.current_tsc[1] as number) * 2 ** 32;
  };
  const state = await emulator.save_state();
  const saved = new DataView(state);
  const info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, saved.getInt32(12, true)))) as {
    state: unknown[];
    buffer_infos: { offset: number }[];
  };
  const start = (16 + saved.getInt32(12, true) + 3) & ~3;
  const at = start + (info.buffer_infos[(info.state[43] as { buffer_id: number }).buffer_id] as { offset: number }).offset;
  const savedTsc = saved.getUint32(at, true) + saved.getUint32(at + 4, true) * 2 ** 32;
  for (let i = 0; i < 3; i++) {
    // As if the VM had run on for 10 s (v86's clock: 10^6 per ms) since: the load must bring it back.
    const later = tsc() + 10_000 * 1e6;
    cpu.set_tsc(later % 2 ** 32, Math.floor(later / 2 ** 32));
    const before = performance.now();
    await emulator.restore_state(state);
    const after = performance.now();
    // v86's clock runs at 10^6 per ms; 1 ms of slack for its clock's steps.
    const drift = tsc() - savedTsc;
    expect(drift).toBeGreaterThanOrEqual(-1e6);
    expect(drift).toBeLessThanOrEqual((after - before) * 1e6 + 1e6);
  }
});

// The first load into a fresh VM writes zeros only over pages that are not
// zero already (untouched pages cost no resident memory): it must still clear
// every page the state has as zero.
it("a first load that skips zero pages leaves the same machine as v86's own", async () => {
  const { emulator, state, ram } = await biosPrinted();
  // Something where the state has zeros, as the BIOS leaves in a fresh VM.
  const stray = 20 * 1024 * 1024;
  ram.fill(0x5a, stray, stray + 3 * 4096);
  expect(zeroSparselyOnce(emulator)).toBeUndefined();
  await emulator.restore_state(state);
  expect(ram.subarray(stray, stray + 3 * 4096).every((b) => b === 0)).toBe(true);
  // The same as v86's own load of it into another fresh VM.
  const plain = await bootBios();
  await plain.restore_state(state);
  expect(publicState(await emulator.save_state())).toEqual(publicState(await plain.save_state()));
});

// A PC built from the snapshot looks for non-zero RAM to clear only below 1 MiB:
// a VM that has not run must have written nothing above it.
it('a VM that has never run holds non-zero RAM only below 1 MiB, and a first load told so leaves the same machine', async () => {
  const emulator = await bootBios();
  const ram = (emulator as unknown as { v86: { cpu: { mem8: Uint8Array } } }).v86.cpu.mem8;
  expect(ram.subarray(0, WRITTEN_BEFORE_RUNNING).some((b) => b !== 0)).toBe(true);
  expect(ram.subarray(WRITTEN_BEFORE_RUNNING).every((b) => b === 0)).toBe(true);
  const { state } = await biosPrinted();
  expect(zeroSparselyOnce(emulator, true)).toBeUndefined();
  await emulator.restore_state(state);
  const plain = await bootBios();
  await plain.restore_state(state);
  expect(publicState(await emulator.save_state())).toEqual(publicState(await plain.save_state()));
});

// The engine loads states itself, reading the packed RAM where it lies instead
// of v86's copy of every buffer: the machine must be the one v86's own load makes.
it("a load in place leaves the same machine as v86's restore_state", async () => {
  const { emulator, state, ram } = await biosPrinted();
  // Run on and scribble over RAM the state has as zeros and as the BIOS's: the load must undo both.
  await emulator.run();
  await emulator.stop();
  ram.fill(0x5a, 20 * 1024 * 1024, 20 * 1024 * 1024 + 3 * 4096);
  ram.fill(0xa5, 0xf0000, 0xf0000 + 4096);
  expect(loadStateInPlace(emulator, state)).toBe(true);
  const plain = await bootBios();
  await plain.restore_state(state);
  expect(publicState(await emulator.save_state())).toEqual(publicState(await plain.save_state()));

  // A buffer past the state's end is refused by name.
  const infoBytes = new DataView(state).getInt32(12, true);
  const info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, infoBytes))) as { buffer_infos: { offset: number }[] };
  info.buffer_infos[3] = { ...info.buffer_infos[3], offset: state.byteLength };
  const text = JSON.stringify(info);
  const broken = new Uint8Array(state.byteLength + text.length);
  broken.set(new Uint8Array(state, 0, 16));
  new DataView(broken.buffer).setInt32(12, text.length, true);
  broken.set(new TextEncoder().encode(text), 16);
  expect(() => loadStateInPlace(plain, broken.buffer)).toThrow(StateError);
  expect(() => loadStateInPlace(plain, broken.buffer)).toThrow(/buffer #3 does not fit/);
});

it('stops between ticks at once, without waiting for the next tick', async () => {
  const emulator = await bootBios();
  let stops = 0;
  emulator.add_listener('emulator-stopped', () => stops++);
  await emulator.run();
  // Let a few ticks run: the guest is between two of them when a timer of ours fires.
  await new Promise<void>((resolve) => setTimeout(resolve, 50));
  const stopped = stopPromptly(emulator);
  // Stopped before the promise was awaited: the stopping tick ran here, not in v86's scheduled one.
  expect(emulator.is_running()).toBe(false);
  await stopped;
  // The tick v86 had scheduled was dropped, not run as a second stop.
  await new Promise<void>((resolve) => setTimeout(resolve, 50));
  expect(stops).toBe(1);
  await emulator.run();
  expect(emulator.is_running()).toBe(true);
  await stopPromptly(emulator);
});

// v86 runs a tick at once whenever the next timer is less than 1 ms away: a
// halted guest spun through tens of thousands of ticks a second, waiting for it.
it('a halted guest waits for its next timer instead of spinning through ticks', async () => {
  const emulator = await bootBios();
  expect(idleWithoutSpinning(emulator)).toBeUndefined();
  const loop = (emulator as unknown as { v86: Required<V86Loop> }).v86;
  const tick = loop.do_tick;
  let ticks = 0;
  loop.do_tick = function (this: unknown) {
    ticks++;
    tick.call(this);
  };
  await emulator.run();
  // Past its boot menu's first print, the BIOS waits in hlt for its timers (18.2 a second, and its own delays).
  await new Promise<void>((resolve) => emulator.add_listener('screen-put-char', () => resolve()));
  await new Promise<void>((resolve) => setTimeout(resolve, 300));
  const from = ticks;
  const started = performance.now();
  await new Promise<void>((resolve) => setTimeout(resolve, 1000));
  const perSecond = ((ticks - from) * 1000) / (performance.now() - started);
  await stopPromptly(emulator);
  // About 35 a second here, against about 1 100 with v86's own wait.
  expect(perSecond).toBeLessThan(200);
});

/** The RAM pages of `now` that differ from `before` (from all zeros without it), by number. */
function changedPages(now: Buffer, before: Buffer | undefined): number[] {
  const zero = Buffer.alloc(PAGE_BYTES);
  const changed: number[] = [];
  for (let page = 0; page < now.length / PAGE_BYTES; page++) {
    const at = page * PAGE_BYTES;
    if (!now.subarray(at, at + PAGE_BYTES).equals(before ? before.subarray(at, at + PAGE_BYTES) : zero)) changed.push(page);
  }
  return changed;
}

/** The RAM pages a delta carries: their numbers, and each page's bytes. */
function ramPagesOf(delta: CapturedDelta, ramBytes: number, holds: number): { page: number; bytes: Buffer }[] {
  const header = checkDelta(delta.payload, { announced: delta.bytes, ramBytes, diskBytes: 0, holds, checkpoint: holds + 1 });
  if ('error' in header) throw new Error(`delta: ${header.error}`);
  expect(header.ramPages).toBe(delta.ramPages);
  const layout = deltaLayout(header);
  const list = new Uint32Array(delta.payload, layout.listsOffset, header.ramPages);
  return [...list].map((page, i) => ({ page, bytes: Buffer.from(delta.payload, layout.pagesOffset + i * PAGE_BYTES, PAGE_BYTES) }));
}

/** The delta path from `primary`, once its BIOS has printed, to `secondary` (these VMs have no disk, and track no writes). */
async function deltaPath(
  primary: V86,
  secondary: V86,
): Promise<{ source: MachineStateAccess; sink: MachineStateAccess; capture: DeltaCapture; applier: DeltaApplier }> {
  await primary.run();
  await new Promise<void>((resolve) => primary.add_listener('screen-put-char', () => resolve()));
  const untracked = () => ({ unavailable: 'write tracking is tested on its own' });
  const source = openStateAccess(primary, MEMORY_BYTES, 0, untracked);
  const sink = openStateAccess(secondary, MEMORY_BYTES, 0, untracked);
  if ('unavailable' in source || 'unavailable' in sink) throw new Error(`delta path unavailable: ${JSON.stringify([source, sink])}`);
  return { source, sink, capture: new DeltaCapture(source), applier: new DeltaApplier(sink) };
}

it("a delta leaves a machine in the state v86's own save_state and restore_state would", async () => {
  const primary = await bootBios();
  const secondary = await bootBios();
  const reference = await bootBios();
  // Let the BIOS write RAM and VGA memory, then compare with machines that never ran.
  const { source, sink, capture, applier } = await deltaPath(primary, secondary);
  const ram = (access: MachineStateAccess) => Buffer.from(new Uint8Array(access.memory.buffer, access.ramOffset, access.ramBytes));

  /** RAM at the last checkpoint. */
  let last: Buffer | undefined;
  for (const checkpoint of [1, 2]) {
    if (last) {
      // The second delta builds on the first, after the guest (the BIOS, its
      // timer ticks at least) changed RAM.
      const before = last;
      await primary.run();
      await expect.poll(() => ram(source).equals(before), { timeout: 30_000, interval: 20 }).toBe(false);
    }
    await primary.stop();
    const delta = capture.capture(checkpoint);
    expect(delta.base).toBe(checkpoint - 1);
    // It carries exactly the pages that changed since the last checkpoint (the
    // first: every page that is not zero), each as it is now.
    const now = ram(source);
    const carried = ramPagesOf(delta, source.ramBytes, checkpoint - 1);
    const changed = changedPages(now, last);
    expect(changed.length).toBeGreaterThan(0);
    expect(delta.ramPages).toBe(changed.length);
    expect(carried.map(({ page }) => page)).toEqual(changed);
    for (const { page, bytes } of carried) expect(bytes.equals(now.subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES))).toBe(true);
    last = Buffer.from(now);

    expect(applier.stage(delta.payload, delta.bytes, checkpoint)).toBe('ok');
    applier.apply();
    await reference.restore_state(await primary.save_state());
    expect(ram(sink).equals(ram(source))).toBe(true);
    expect(publicState(await secondary.save_state())).toEqual(publicState(await reference.save_state()));
  }

  // A checkpoint of the stopped primary: its VGA did not change, so the
  // secondary's VGA is not loaded again (its screen is not redrawn), and the
  // state is still the one v86's own restore would give.
  const screen = (secondary as unknown as { v86: { cpu: { devices: { vga: { screen: { clear_text_state: () => void } } } } } }).v86.cpu.devices.vga.screen;
  const clear = screen.clear_text_state;
  let redraws = 0;
  screen.clear_text_state = () => {
    redraws++;
    clear();
  };
  const unchanged = capture.capture(3);
  expect(applier.stage(unchanged.payload, unchanged.bytes, 3)).toBe('ok');
  applier.apply();
  expect(redraws).toBe(0);
  await reference.restore_state(await primary.save_state());
  expect(redraws).toBe(0);
  expect(publicState(await secondary.save_state())).toEqual(publicState(await reference.save_state()));
});

// The secondary refills its client port after every load (input the state
// does not hold): that writes the UART's registers behind the last load. A
// load that then skipped the UART as "held" (its entry equal to the last
// load's) left it saying data was ready with nothing queued, and the guest
// read a NUL byte nobody sent.
it('a load puts back the UART the input refill wrote, even when the checkpoint did not change it', async () => {
  const primary = await bootBios();
  const secondary = await bootBios();
  const { capture, applier } = await deltaPath(primary, secondary);
  await primary.stop();
  type Uart = { get_state(): unknown[]; data_received(byte: number): void; input: number[] };
  const uart = (emulator: V86) => (emulator as unknown as { v86: { cpu: { devices: { uart1: Uart } } } }).v86.cpu.devices.uart1;
  for (const checkpoint of [1, 2]) {
    const delta = capture.capture(checkpoint);
    expect(applier.stage(delta.payload, delta.bytes, checkpoint)).toBe('ok');
    applier.apply();
    expect(uart(secondary).get_state()).toEqual(uart(primary).get_state());
    // The refill after the load, as GuestMachine.replayClientInput does it: a byte the client sent.
    uart(secondary).input.length = 0;
    uart(secondary).data_received(0x41);
    expect(uart(secondary).get_state()).not.toEqual(uart(primary).get_state());
  }
});
