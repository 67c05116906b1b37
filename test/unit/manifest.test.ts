// The committed guest files are the ones manifest.json vouches for.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import v86Package from 'v86/package.json';
import { GUEST_CONFIG, type AssetManifest } from '../../engine/vm/guest-config.ts';
import { TRACKING_WASM_FILE } from '../../engine/vm/write-tracking.ts';

const ASSETS = join(import.meta.dirname, '..', '..', 'wasm-assets');
const manifest = JSON.parse(readFileSync(join(ASSETS, 'manifest.json'), 'utf8')) as AssetManifest;

describe('wasm-assets/manifest.json', () => {
  it('lists every guest file and the write-tracking v86.wasm with its size and sha256', () => {
    expect(Object.keys(manifest.files).sort()).toEqual([...Object.values(GUEST_CONFIG.files), TRACKING_WASM_FILE].sort());
    for (const [name, record] of Object.entries(manifest.files)) {
      const bytes = readFileSync(join(ASSETS, name));
      expect({ name, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }).toEqual({ name, ...record });
    }
  });

  it('names the Debian packages and keeps their licences', () => {
    expect(manifest.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['seabios', 'busybox-static', expect.stringMatching(/^linux-image-/)]));
    for (const p of manifest.packages) {
      expect(p.version).toMatch(/\d/);
      expect(existsSync(join(ASSETS, 'licences', `${p.name}.copyright`))).toBe(true);
    }
  });

  it('records a snapshot made by this v86 with this machine configuration', () => {
    expect(manifest.snapshot).toMatchObject({
      v86Version: v86Package.version,
      memoryBytes: GUEST_CONFIG.memoryBytes,
      vgaMemoryBytes: GUEST_CONFIG.vgaMemoryBytes,
      diskBytes: GUEST_CONFIG.diskBytes,
      cmdline: GUEST_CONFIG.cmdline,
    });
  });
});
