// The real guest in real v86, one VM per worker_threads Worker.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GUEST_CONFIG, type AssetManifest } from '../../engine/vm/guest-config.ts';
import { spawnNodeVm } from '../../engine/worker/spawn.node.ts';
import { LEDGER_READY, REBOOT_GUEST, SHELL_PROMPT } from '../../engine/vm/guest-protocol.ts';
import type { VmHandle } from '../../engine/worker/vm-handle.ts';
import { ASSETS_DIR, alteredAssets, flipByte } from '../support/assets.ts';

const BOOT_TIMEOUT_MS = 90_000;
const vms: VmHandle[] = [];
function spawn(): VmHandle {
  const vm = spawnNodeVm();
  vms.push(vm);
  return vm;
}
afterEach(() => {
  for (const vm of vms.splice(0)) vm.terminate();
});

describe('booting the kernel (no snapshot)', () => {
  it('reaches a shell that answers and a ledger that deduplicates', async () => {
    const vm = spawn();
    await vm.start({ mode: 'boot', assetBase: ASSETS_DIR });
    await vm.waitForOutput(0, SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await vm.waitForOutput(1, LEDGER_READY, BOOT_TIMEOUT_MS);
    expect(await vm.shell('echo $((6 * 7)) $(cat /proc/cmdline)')).toBe(`42 ${GUEST_CONFIG.cmdline}\n`);
    expect(vm.transcript(0)).toContain('Linux version 6.1.0');
    expect(await vm.ledger('a1', 'add 5')).toBe('a1 ok 5');
    expect(await vm.ledger('a2', 'add 7')).toBe('a2 ok 12');
    expect(await vm.ledger('a1', 'add 5')).toBe('a1 ok 5');
    expect(await vm.ledger('t1', 'get')).toBe('t1 ok 12');
  });
});

describe('starting from the booted snapshot', () => {
  it('answers shell commands and ledger requests, including bad ones', async () => {
    const vm = spawn();
    const report = await vm.start({ mode: 'snapshot', assetBase: ASSETS_DIR });
    expect(report.mode).toBe('snapshot');
    expect(await vm.shell('uname -r')).toMatch(/^6\.1\.0-\d+-686\n$/);
    expect(await vm.ledger('b1', 'add 100')).toBe('b1 ok 100');
    expect(await vm.ledger('b2', 'add -30')).toBe('b2 ok 70');
    expect(await vm.ledger('b3', 'add 1x')).toBe('b3 err bad-amount');
    expect(await vm.ledger('b4', 'frobnicate')).toBe('b4 err bad-op');
    expect(await vm.ledger('b1', 'add 100')).toBe('b1 ok 100');
    expect(await vm.ledger('b5', 'get')).toBe('b5 ok 70');
    expect(await vm.ledger('b6', 'rand')).toMatch(/^b6 ok 70 rand=\d+$/);
    // A fragment cut off by a checkpoint, then the client's retry: the fragment
    // is refused on its own line and does not claim the id.
    await vm.machine.sendSerial(1, 'b7 add 1');
    expect(await vm.ledger('b7', 'add 12')).toBe('b7 ok 82');
    expect(vm.transcript(1)).toContain('- err malformed\n');
    const screen = await vm.machine.textScreen();
    expect(screen.join('\n')).toContain('BusyBox');
    // The worker keeps answering while the guest burns CPU.
    await vm.shell('(burn 5 &)');
    let last = await vm.machine.instructionCount();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => vm.subscribe(() => resolve()) && void vm.machine.sendSerial(0, '\n'));
      const now = await vm.machine.instructionCount();
      expect(now).toBeGreaterThan(last);
      last = now;
    }
  });

  it('reboots: the kernel boots afresh, and the ledger comes back from its journal with its total and replies', async () => {
    const vm = spawn();
    await vm.start({ mode: 'snapshot', assetBase: ASSETS_DIR });
    expect(await vm.ledger('r1', 'add 40')).toBe('r1 ok 40');
    expect(await vm.ledger('r2', 'add 2')).toBe('r2 ok 42');
    const bootsBefore = vm.transcript(0).split('Linux version').length;
    await vm.machine.armReboot();
    const from = vm.transcriptEnd(1);
    await vm.machine.sendSerial(0, `${REBOOT_GUEST}\n`);
    await vm.waitForOutput(1, LEDGER_READY, BOOT_TIMEOUT_MS, from);
    // The kernel printed its banner again: a boot, not a restart of the ledger.
    expect(vm.transcript(0).split('Linux version').length).toBe(bootsBefore + 1);
    expect(vm.transcript(0)).toContain('ledger: ready (2 replies from the journal, total 42)');
    expect(await vm.ledger('r3', 'add 1')).toBe('r3 ok 43');
    expect(await vm.ledger('r1', 'add 40')).toBe('r1 ok 40');
    // And again: the ROM and the copies are put back at every reset.
    const again = vm.transcriptEnd(1);
    await vm.machine.armReboot();
    await vm.machine.sendSerial(0, `${REBOOT_GUEST}\n`);
    await vm.waitForOutput(1, LEDGER_READY, BOOT_TIMEOUT_MS, again);
    expect(await vm.ledger('r4', 'get')).toBe('r4 ok 43');
  });

  it('moves a saved state into a second VM, which continues the ledger with the same total', async () => {
    const first = spawn();
    const second = spawn();
    await Promise.all([first.start({ mode: 'snapshot', assetBase: ASSETS_DIR }), second.start({ mode: 'snapshot', assetBase: ASSETS_DIR })]);
    expect(await first.ledger('c1', 'add 40')).toBe('c1 ok 40');
    expect(await first.ledger('c2', 'add 2')).toBe('c2 ok 42');
    await first.machine.stop();
    const state = await first.saveState();
    expect(state.byteLength).toBeGreaterThan(GUEST_CONFIG.vgaMemoryBytes);
    await second.restoreState(state);
    expect(state.byteLength).toBe(0); // transferred into the worker, not copied
    expect(await second.ledger('c3', 'add 1')).toBe('c3 ok 43');
    expect(await second.ledger('c1', 'add 40')).toBe('c1 ok 40');
    expect(await second.shell('echo still here')).toBe('still here\n');
  });
});

describe('bad input', () => {
  it('names a missing asset', async () => {
    const assets = alteredAssets((dir) => rmSync(join(dir, GUEST_CONFIG.files.kernel)));
    try {
      await expect(spawn().start({ mode: 'boot', assetBase: assets.dir })).rejects.toThrow(/asset vmlinuz: missing/);
    } finally {
      assets.dispose();
    }
  });

  it('names an asset whose hash does not match the manifest', async () => {
    const assets = alteredAssets((dir) => flipByte(join(dir, GUEST_CONFIG.files.initrd), 1000));
    try {
      await expect(spawn().start({ mode: 'boot', assetBase: assets.dir })).rejects.toThrow(/asset initramfs\.img: sha256 mismatch/);
    } finally {
      assets.dispose();
    }
  });

  it('refuses a snapshot recorded for another v86 version', async () => {
    const assets = alteredAssets((dir) => {
      const path = join(dir, 'manifest.json');
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as AssetManifest;
      if (!manifest.snapshot) throw new Error('manifest.json has no snapshot record');
      manifest.snapshot.v86Version = '0.5.1';
      writeFileSync(path, JSON.stringify(manifest, null, 2));
    });
    try {
      await expect(spawn().start({ mode: 'snapshot', assetBase: assets.dir })).rejects.toThrow(/snapshot: saved by v86 0\.5\.1, this build runs v86 0\.5\.462/);
    } finally {
      assets.dispose();
    }
  });

  it('refuses states from another memory size or v86 version and keeps running', async () => {
    const vm = spawn();
    await vm.start({ mode: 'snapshot', assetBase: ASSETS_DIR });
    expect(await vm.ledger('d1', 'add 9')).toBe('d1 ok 9');
    const good = await vm.saveState();

    const otherVersion = good.slice(0);
    new DataView(otherVersion).setInt32(4, 5, true);
    await expect(vm.restoreState(otherVersion)).rejects.toThrow(/format version 5, this v86 reads version 6/);

    // Same-length edit of the CPU's memory size field in the JSON info block.
    const otherMemory = good.slice(0);
    const bytes = new Uint8Array(otherMemory);
    const needle = new TextEncoder().encode(`"state":[${GUEST_CONFIG.memoryBytes},`);
    const at = Buffer.from(bytes).indexOf(Buffer.from(needle));
    expect(at).toBeGreaterThan(0);
    bytes.set(new TextEncoder().encode(`"state":[${64 * 1024 * 1024},`), at);
    await expect(vm.restoreState(otherMemory)).rejects.toThrow('saved from a VM with 64 MiB of memory, this VM has 80 MiB');

    await expect(vm.restoreState(good.slice(0, 1000))).rejects.toThrow(/truncated/);
    expect(await vm.ledger('d2', 'get')).toBe('d2 ok 9');
  });
});

afterAll(() => {
  for (const vm of vms.splice(0)) vm.terminate();
});
