import { describe, expect, it } from 'vitest';
import { AssetError, sha256Hex, verifyAsset } from '../../engine/vm/asset-check.ts';
import type { AssetManifest } from '../../engine/vm/guest-config.ts';

const data = new TextEncoder().encode('guest bytes');

async function manifestFor(name: string, bytes: Uint8Array): Promise<AssetManifest> {
  return { note: '', packages: [], licences: {}, files: { [name]: { bytes: bytes.length, sha256: await sha256Hex(bytes) } } };
}

describe('verifyAsset', () => {
  it('accepts the bytes the manifest describes', async () => {
    await expect(verifyAsset(await manifestFor('vmlinuz', data), 'vmlinuz', data)).resolves.toBeUndefined();
  });

  it('names the file and both hashes on a mismatch', async () => {
    const manifest = await manifestFor('vmlinuz', data);
    const altered = data.slice();
    altered[0] = (altered[0] ?? 0) ^ 1;
    await expect(verifyAsset(manifest, 'vmlinuz', altered)).rejects.toThrow(AssetError);
    await expect(verifyAsset(manifest, 'vmlinuz', altered)).rejects.toThrow(/asset vmlinuz: sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/);
  });

  it('names a file of the wrong size', async () => {
    await expect(verifyAsset(await manifestFor('vmlinuz', data), 'vmlinuz', data.subarray(1))).rejects.toThrow(
      `asset vmlinuz: ${data.length - 1} bytes, manifest.json says ${data.length}`,
    );
  });

  it('refuses a file the manifest does not list', async () => {
    await expect(verifyAsset(await manifestFor('vmlinuz', data), 'other.bin', data)).rejects.toThrow('asset other.bin: not listed');
  });
});
