// Where guest assets come from. The browser fetches them; Node reads files.
// Both check every file against manifest.json.
import { AssetError, verifyAsset } from './asset-check.ts';
import type { AssetManifest } from './guest-config.ts';

export interface AssetSource {
  /** Raw bytes of a file next to manifest.json; throws AssetError if missing. */
  read(name: string): Promise<Uint8Array>;
  /** The v86 WebAssembly module's bytes. */
  readWasm(): Promise<ArrayBuffer>;
}

/** `source`, except that the files in `given` are read from there (each once: the bytes move on). */
export function withGivenFiles(source: AssetSource, given: Readonly<Record<string, ArrayBuffer>>): AssetSource {
  const left = new Map(Object.entries(given));
  return {
    read(name) {
      const bytes = left.get(name);
      left.delete(name);
      return bytes ? Promise.resolve(new Uint8Array(bytes)) : source.read(name);
    },
    readWasm: () => source.readWasm(),
  };
}

export async function readManifest(source: AssetSource): Promise<AssetManifest> {
  const bytes = await source.read('manifest.json');
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as AssetManifest;
  } catch (err) {
    throw new AssetError(`asset manifest.json: not valid JSON (${(err as Error).message})`);
  }
}

export async function readVerified(source: AssetSource, manifest: AssetManifest, name: string): Promise<ArrayBuffer> {
  const bytes = await source.read(name);
  await verifyAsset(manifest, name, bytes);
  // A file that is its own whole buffer (fetched, or handed over) needs no copy: 11 MB less garbage for the snapshot.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? bytes.buffer : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

export async function gunzip(data: ArrayBuffer): Promise<ArrayBuffer> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

export function fetchAssetSource(base: string, wasmUrl: string): AssetSource {
  const get = async (url: string, name: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new AssetError(`asset ${name}: could not fetch ${url} (${(err as Error).message})`);
    }
    if (!response.ok) throw new AssetError(`asset ${name}: missing (HTTP ${response.status} from ${url})`);
    return response;
  };
  return {
    async read(name) {
      const url = new URL(name, base).href;
      return new Uint8Array(await (await get(url, name)).arrayBuffer());
    },
    async readWasm() {
      return (await get(wasmUrl, 'v86.wasm')).arrayBuffer();
    },
  };
}
