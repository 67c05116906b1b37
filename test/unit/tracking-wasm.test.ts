// The write-tracking build of v86.wasm: the committed file is the rewrite of
// the installed v86.wasm (run `npm run tracking` after a change), the manifest
// vouches for it, and anything but the pinned build is refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { AssetManifest } from '../../engine/vm/guest-config.ts';
import { TRACKING_EXPORTS, TRACKING_WASM_FILE } from '../../engine/vm/write-tracking.ts';
import { installedV86Wasm } from '../../tools/build-tracking-wasm.ts';
import { PINNED_V86, sha256, writeTrackingWasm } from '../../tools/write-tracking-wasm.ts';
import v86Package from 'v86/package.json';

const ASSETS = join(import.meta.dirname, '..', '..', 'wasm-assets');

describe('the write-tracking build of v86.wasm', () => {
  it('is the rewrite of the installed v86.wasm, recorded in the manifest', () => {
    const packed = new Uint8Array(readFileSync(join(ASSETS, TRACKING_WASM_FILE)));
    const committed = gunzipSync(packed);
    const original = installedV86Wasm();
    expect(Buffer.from(writeTrackingWasm(original)).equals(committed)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(ASSETS, 'manifest.json'), 'utf8')) as AssetManifest;
    expect(manifest.files[TRACKING_WASM_FILE]).toEqual({ bytes: packed.length, sha256: sha256(packed) });
    expect(manifest.tracking).toEqual({ file: TRACKING_WASM_FILE, v86Version: v86Package.version, sourceSha256: sha256(original), bytes: committed.length });
  });

  it('compiles, and exports the map, its size, RAM base and the re-arm', async () => {
    const module = await WebAssembly.compile(gunzipSync(readFileSync(join(ASSETS, TRACKING_WASM_FILE))));
    const exports = WebAssembly.Module.exports(module);
    for (const name of Object.values(TRACKING_EXPORTS)) expect(exports.map((e) => e.name)).toContain(name);
  });

  it('refuses any other build of v86.wasm', () => {
    const other = installedV86Wasm().slice();
    other[other.length - 1] = (other.at(-1) ?? 0) ^ 1;
    expect(() => writeTrackingWasm(other)).toThrow(`is not the pinned build ${PINNED_V86.sha256} (v86 ${PINNED_V86.version})`);
  });
});
