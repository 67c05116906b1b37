// Second half of `npm run assets`: boots the guest once under Node, waits for
// the shell and the ledger, drops the page cache, restarts the ledger and saves
// a booted snapshot (gzip) while it waits to read its journal: pages start from
// it instead of booting, and each reads the journal of its own disk. Records it in manifest.json.
// v86 puts the initrd at 64 MiB, in RAM the guest's firmware map reserves; the
// kernel copies it below at boot and never reads that copy again, but its 1 MB
// (gzipped already, so it does not shrink) would ride in every snapshot and sit
// in every PC's RAM: the snapshot is saved with that copy zeroed.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { V86 } from 'v86';
import { GUEST_CONFIG, type AssetManifest } from '../engine/vm/guest-config.ts';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import { LEDGER_READS_JOURNAL, LEDGER_READY, RESTART_LEDGER, SHELL_PROMPT } from '../engine/vm/guest-protocol.ts';

const ASSETS_DIR = join(import.meta.dirname, '..', 'wasm-assets');
const BOOT_TIMEOUT_MS = 120_000;
/** Where v86's kernel loader puts the initrd (v86 0.5.462, `load_kernel`). */
const V86_INITRD_ADDRESS = 64 * 1024 * 1024;

/** `state` with the RAM v86 loaded the initrd into zeroed, through a plain v86 that loads it and saves it again without running. */
async function withoutInitrdCopy(state: ArrayBuffer, initrdBytes: number): Promise<ArrayBuffer> {
  const file = (name: string) => {
    const bytes = readFileSync(join(ASSETS_DIR, name));
    return { buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
  };
  const emulator = new V86({
    wasm_path: createRequire(import.meta.url).resolve('v86/build/v86.wasm'),
    memory_size: GUEST_CONFIG.memoryBytes,
    vga_memory_size: GUEST_CONFIG.vgaMemoryBytes,
    bios: file(GUEST_CONFIG.files.bios),
    vga_bios: file(GUEST_CONFIG.files.vgaBios),
    hda: { buffer: new ArrayBuffer(GUEST_CONFIG.diskBytes) },
    uart1: true,
    autostart: false,
  });
  try {
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    await emulator.restore_state(state);
    const ram = (emulator as unknown as { v86: { cpu: { mem8: Uint8Array } } }).v86.cpu.mem8;
    ram.fill(0, V86_INITRD_ADDRESS, V86_INITRD_ADDRESS + initrdBytes);
    return await emulator.save_state();
  } finally {
    await emulator.destroy();
  }
}

async function main(): Promise<void> {
  const manifestPath = join(ASSETS_DIR, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as AssetManifest;
  // A failed run must not leave a manifest that vouches for an old snapshot.
  manifest.files = Object.fromEntries(Object.entries(manifest.files).filter(([name]) => name !== GUEST_CONFIG.files.snapshot));
  delete manifest.snapshot;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');

  const vm = spawnNodeVm();
  try {
    await vm.start({ mode: 'boot', assetBase: ASSETS_DIR });
    await vm.waitForOutput(0, SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await vm.waitForOutput(1, LEDGER_READY, BOOT_TIMEOUT_MS);
    // Free the page cache so the snapshot holds fewer non-zero pages.
    await vm.shell('sync; echo 3 > /proc/sys/vm/drop_caches; clear');
    // Saved while a restarted ledger waits to read its journal: every PC
    // resumed from the snapshot reads the journal of its own disk
    // (wasm-assets/guest/ledger). The pause lasts 300 ms; the VM
    // stops within milliseconds of the ledger saying so.
    const from = vm.transcriptEnd(0);
    await vm.machine.sendSerial(0, `${RESTART_LEDGER}; clear\n`);
    await vm.waitForOutput(0, LEDGER_READS_JOURNAL, 10_000, from);
    await vm.machine.stop();
    if (vm.transcript(0).includes('ledger: ready (', vm.transcript(0).lastIndexOf(LEDGER_READS_JOURNAL))) {
      throw new Error('the ledger read its journal before the VM stopped: the snapshot would not read it again');
    }
    const initrdBytes = manifest.files[GUEST_CONFIG.files.initrd]?.bytes;
    if (initrdBytes === undefined) throw new Error(`manifest.json has no ${GUEST_CONFIG.files.initrd}; run the first half of \`npm run assets\``);
    const state = await withoutInitrdCopy(await vm.saveState(), initrdBytes);
    const packed = gzipSync(new Uint8Array(state), { level: 9 });
    writeFileSync(join(ASSETS_DIR, GUEST_CONFIG.files.snapshot), packed);

    const v86Version = (createRequire(import.meta.url)('v86/package.json') as { version: string }).version;
    manifest.files[GUEST_CONFIG.files.snapshot] = {
      bytes: packed.length,
      sha256: createHash('sha256').update(packed).digest('hex'),
    };
    manifest.snapshot = {
      v86Version,
      memoryBytes: GUEST_CONFIG.memoryBytes,
      vgaMemoryBytes: GUEST_CONFIG.vgaMemoryBytes,
      diskBytes: GUEST_CONFIG.diskBytes,
      cmdline: GUEST_CONFIG.cmdline,
      stateBytes: state.byteLength,
    };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    console.log(`snapshot: ${state.byteLength} bytes of state, ${packed.length} bytes gzipped`);
  } finally {
    vm.terminate();
  }
}

await main();
