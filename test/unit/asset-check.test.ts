import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AssetError, sha256Hex, verifyAsset } from '../../engine/vm/asset-check.ts';
import { gunzip } from '../../engine/vm/asset-source.ts';
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

describe('gunzip', () => {
  const state = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
  const packed = () => {
    const gz = gzipSync(state);
    return gz.buffer.slice(gz.byteOffset, gz.byteOffset + gz.byteLength) as ArrayBuffer;
  };

  it('unpacks into one buffer of the size the manifest gives', async () => {
    expect(new Uint8Array(await gunzip(packed(), 'booted-state.v86gz', state.length))).toEqual(state);
  });

  it('refuses what unpacks to another size, or is not gzip, naming the file', async () => {
    await expect(gunzip(packed(), 'booted-state.v86gz', state.length - 1)).rejects.toThrow(
      new AssetError('asset booted-state.v86gz: unpacks to more than the 299999 bytes manifest.json gives it'),
    );
    await expect(gunzip(packed(), 'booted-state.v86gz', state.length + 1)).rejects.toThrow(
      new AssetError('asset booted-state.v86gz: unpacks to 300000 bytes, manifest.json gives it 300001'),
    );
    await expect(gunzip(new TextEncoder().encode('plain').buffer, 'booted-state.v86gz', 5)).rejects.toThrow(/^asset booted-state.v86gz: not valid gzip/);
  });
});
