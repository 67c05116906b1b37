// Second half of `npm run assets`: boots the guest once under Node, waits for
// the shell and the ledger, drops the page cache and saves a booted snapshot
// (gzip) that pages start from instead of booting. Records it in manifest.json.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GUEST_CONFIG, type AssetManifest } from '../engine/vm/guest-config.ts';
import { spawnNodeVm } from '../engine/worker/spawn.node.ts';
import { LEDGER_READY, SHELL_PROMPT } from '../engine/vm/guest-protocol.ts';

const ASSETS_DIR = join(import.meta.dirname, '..', 'wasm-assets');
const BOOT_TIMEOUT_MS = 120_000;

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
    await vm.machine.stop();
    const state = await vm.saveState();
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
