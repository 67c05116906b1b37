// `npm run tracking` (and the end of `npm run assets`): rewrites the npm
// package's v86.wasm into the write-tracking build (tools/write-tracking-wasm.ts),
// writes it to wasm-assets/ gzipped, and records it in manifest.json with the v86 it
// was made from. test/unit/tracking-wasm.test.ts fails when the committed
// build is not the rewrite of the installed v86.wasm.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AssetManifest } from '../engine/vm/guest-config.ts';
import { TRACKING_WASM_FILE } from '../engine/vm/write-tracking.ts';
import { PINNED_V86, sha256, writeTrackingWasm } from './write-tracking-wasm.ts';

const ASSETS_DIR = join(import.meta.dirname, '..', 'wasm-assets');

/** The npm package's own v86.wasm. */
export function installedV86Wasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(createRequire(import.meta.url).resolve('v86'), '..', 'v86.wasm')));
}

if (process.argv[1] === import.meta.filename) {
  const original = installedV86Wasm();
  const tracking = writeTrackingWasm(original);
  const packed = gzipSync(tracking, { level: 9 });
  writeFileSync(join(ASSETS_DIR, TRACKING_WASM_FILE), packed);
  const manifestPath = join(ASSETS_DIR, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as AssetManifest;
  // A build recorded under another name before is gone: the manifest no longer vouches for it.
  const previous = manifest.tracking?.file;
  manifest.files = Object.fromEntries(Object.entries(manifest.files).filter(([name]) => name === TRACKING_WASM_FILE || name !== previous));
  manifest.files[TRACKING_WASM_FILE] = { bytes: packed.length, sha256: sha256(packed) };
  manifest.tracking = { file: TRACKING_WASM_FILE, v86Version: PINNED_V86.version, sourceSha256: sha256(original), bytes: tracking.length };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  console.log(`wrote wasm-assets/${TRACKING_WASM_FILE} (${tracking.length} bytes, ${packed.length} gzipped) and its record in manifest.json`);
}
