// A page runs two or three PCs from the same files: each file is fetched once
// here and every PC gets its own copy, moved into its worker, instead of every
// worker fetching everything again. The page keeps the fetched bytes (about
// 13.5 MB) for the spare PCs that start after a failure.
import { GUEST_CONFIG, type AssetManifest } from '../vm/guest-config.ts';
import type { StartOptions } from '../vm/machine-api.ts';

const MANIFEST = 'manifest.json';

export class SharedAssetFetch {
  private readonly fetched = new Map<string, Promise<ArrayBuffer | undefined>>();

  /**
   * A copy of each file a PC started from the booted snapshot reads. A file
   * that could not be fetched is left out: the worker fetches it itself and
   * says what is wrong with it.
   */
  async filesFor(options: StartOptions): Promise<Record<string, ArrayBuffer>> {
    if (options.mode === 'boot') return {};
    const { bios, vgaBios, snapshot } = GUEST_CONFIG.files;
    const fixed = [MANIFEST, bios, vgaBios, snapshot].map((name) => this.named(options.assetBase, name));
    const manifest = await fixed[0];
    // The write-tracking build's name is in the manifest.
    const tracking = manifest?.[1] && trackingFile(manifest[1]);
    const all = await Promise.all(tracking ? [...fixed, this.named(options.assetBase, tracking)] : fixed);
    return Object.fromEntries(all.flatMap(([name, bytes]) => (bytes ? [[name, bytes.slice(0)]] : [])));
  }

  private async named(base: string, name: string): Promise<[string, ArrayBuffer | undefined]> {
    const url = new URL(name, base).href;
    let bytes = this.fetched.get(url);
    if (!bytes) {
      bytes = fetch(url)
        .then((response) => (response.ok ? response.arrayBuffer() : undefined))
        .catch(() => undefined);
      this.fetched.set(url, bytes);
    }
    return [name, await bytes];
  }
}

function trackingFile(manifest: ArrayBuffer): string | undefined {
  try {
    return (JSON.parse(new TextDecoder().decode(manifest)) as AssetManifest).tracking?.file;
  } catch {
    return undefined; // the worker reads the manifest too, and says what is wrong with it
  }
}
