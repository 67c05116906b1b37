// Checks guest asset bytes against the manifest before v86 sees them, so a
// missing or altered file fails with its name instead of a guest that hangs.
import type { AssetManifest } from './guest-config.ts';

export class AssetError extends Error {
  override name = 'AssetError';
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function verifyAsset(manifest: AssetManifest, name: string, data: Uint8Array): Promise<void> {
  const expected = manifest.files[name];
  if (!expected) throw new AssetError(`asset ${name}: not listed in manifest.json`);
  if (data.length !== expected.bytes) {
    throw new AssetError(`asset ${name}: ${data.length} bytes, manifest.json says ${expected.bytes}`);
  }
  const actual = await sha256Hex(data);
  if (actual !== expected.sha256) {
    throw new AssetError(`asset ${name}: sha256 mismatch (expected ${expected.sha256}, got ${actual})`);
  }
}
