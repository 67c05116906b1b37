// The VM adapter uses a few v86 internals that v86.d.ts does not promise.
// This test fails when a v86 upgrade takes one away, before anything subtler breaks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { V86 } from 'v86';
import { expect, it } from 'vitest';
import type { V86Internals } from '../../engine/vm/machine.ts';
import { ASSETS_DIR } from '../support/assets.ts';

it('v86 still has the internals the adapter relies on', async () => {
  const file = (name: string) => {
    const bytes = readFileSync(join(ASSETS_DIR, name));
    return { buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
  };
  const emulator = new V86({
    wasm_path: join(import.meta.dirname, '..', '..', 'node_modules', 'v86', 'build', 'v86.wasm'),
    memory_size: 32 * 1024 * 1024,
    bios: file('seabios.bin'),
    vga_bios: file('vgabios-stdvga.bin'),
    autostart: false,
  });
  await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
  const internals = emulator as unknown as V86Internals;
  expect(typeof internals.screen_adapter?.get_text_screen).toBe('function');
  expect(typeof internals.v86?.next_tick).toBe('function');
  await emulator.destroy();
});
