// The engine uses v86 internals that v86.d.ts does not promise. These tests
// fail when a v86 upgrade takes one away or changes what it means, before
// anything subtler breaks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { V86 } from 'v86';
import { afterAll, expect, it } from 'vitest';
import { DeltaApplier } from '../../engine/checkpoint/delta-apply.ts';
import { DeltaCapture } from '../../engine/checkpoint/delta-capture.ts';
import type { MachineStateAccess } from '../../engine/checkpoint/machine-state.ts';
import type { V86Internals } from '../../engine/vm/machine.ts';
import { openStateAccess } from '../../engine/vm/v86-state-access.ts';
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

/**
 * v86's own save_state, split into its JSON info and buffers. Left out: the
 * TSC (it follows the wall clock) and the NIC's MAC and PROM (each instance
 * keeps its own, with v86's restore_state as well).
 */
function publicState(state: ArrayBuffer): { info: unknown; buffers: string[] } {
  const view = new DataView(state);
  const infoLength = view.getInt32(12, true);
  const parsed = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, infoLength))) as { state: unknown[]; buffer_infos: { offset: number; length: number }[] };
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

it("a delta leaves a machine in the state v86's own save_state and restore_state would", async () => {
  const primary = await bootBios();
  const secondary = await bootBios();
  const reference = await bootBios();
  await primary.run();
  // Let the BIOS write RAM and VGA memory, then compare with machines that never ran.
  await new Promise<void>((resolve) => primary.add_listener('screen-put-char', () => resolve()));
  const source = openStateAccess(primary, MEMORY_BYTES);
  const sink = openStateAccess(secondary, MEMORY_BYTES);
  if ('unavailable' in source || 'unavailable' in sink) throw new Error(`delta path unavailable: ${JSON.stringify([source, sink])}`);
  const capture = new DeltaCapture(source);
  const applier = new DeltaApplier(sink);
  const ram = (access: MachineStateAccess) => Buffer.from(new Uint8Array(access.memory.buffer, access.ramOffset, access.ramBytes));

  for (const checkpoint of [1, 2]) {
    await primary.stop();
    const delta = capture.capture(checkpoint);
    expect(delta.base).toBe(checkpoint - 1);
    expect(applier.stage(delta.payload, delta.bytes)).toBe('ok');
    applier.apply();
    await reference.restore_state(await primary.save_state());
    expect(ram(sink).equals(ram(source))).toBe(true);
    expect(publicState(await secondary.save_state())).toEqual(publicState(await reference.save_state()));
    // The second delta builds on the first, after the primary ran on.
    await primary.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
});
