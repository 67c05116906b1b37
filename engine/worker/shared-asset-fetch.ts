// A page runs two or three PCs from the same files: each file is fetched once
// here and every PC gets its own copy, moved into its worker, instead of every
// worker fetching everything again. The snapshot, most of the bytes, reaches
// each worker as it downloads: the worker builds its VM and unpacks the
// snapshot meanwhile, rather than after the last byte. The page keeps the
// fetched bytes (about 13.5 MB) for the spare PCs that start after a failure.
import { GUEST_CONFIG, type AssetManifest } from '../vm/guest-config.ts';
import type { StartOptions } from '../vm/machine-api.ts';
import { KeptDownload } from './kept-download.ts';

const MANIFEST = 'manifest.json';

/** A PC's own copies: the files fetched, and the snapshot as it arrives. */
export type SharedFiles = Required<Pick<StartOptions, 'files' | 'arriving'>>;

export class SharedAssetFetch {
  private readonly fetched = new Map<string, Promise<ArrayBuffer | undefined>>();
  private readonly downloads = new Map<string, KeptDownload>();

  /**
   * A copy of each file a PC started from the booted snapshot reads. A file
   * that could not be fetched is left out (or its stream errors): the worker
   * fetches it itself and says what is wrong with it.
   */
  async filesFor(options: StartOptions): Promise<SharedFiles> {
    if (options.mode === 'boot') return { files: {}, arriving: {} };
    const { bios, vgaBios, snapshot } = GUEST_CONFIG.files;
    const arriving = { [snapshot]: this.download(new URL(snapshot, options.assetBase).href).stream() };
    const fixed = [MANIFEST, bios, vgaBios].map((name) => this.named(options.assetBase, name));
    const manifest = await fixed[0];
    // The write-tracking build's name is in the manifest.
    const tracking = manifest?.[1] && trackingFile(manifest[1]);
    const all = await Promise.all(tracking ? [...fixed, this.named(options.assetBase, tracking)] : fixed);
    return { files: Object.fromEntries(all.flatMap(([name, bytes]) => (bytes ? [[name, bytes.slice(0)]] : []))), arriving };
  }

  private download(url: string): KeptDownload {
    let download = this.downloads.get(url);
    if (!download) {
      download = new KeptDownload(url);
      this.downloads.set(url, download);
    }
    return download;
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
