// Where guest assets come from. The browser fetches them; Node reads files.
// Both check every file against manifest.json.
import { AssetError, verifyAsset } from './asset-check.ts';
import type { AssetManifest } from './guest-config.ts';

export interface AssetSource {
  /** Raw bytes of a file next to manifest.json; throws AssetError if missing. */
  read(name: string): Promise<Uint8Array>;
  /** The v86 WebAssembly module's bytes. */
  readWasm(): Promise<ArrayBuffer>;
  /** A file still arriving, from its first byte, as someone else downloads it (once: the stream moves on). */
  arriving?(name: string): ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
}

/**
 * `source`, except that the files in `given` are read from there, and those in
 * `arriving` as they arrive (each once: the bytes move on).
 */
export function withGivenFiles(
  source: AssetSource,
  given: Readonly<Record<string, ArrayBuffer>>,
  arriving: Readonly<Record<string, ReadableStream<Uint8Array<ArrayBuffer>>>> = {},
): AssetSource {
  const left = new Map(Object.entries(given));
  const streams = new Map(Object.entries(arriving));
  const take = <T>(from: Map<string, T>, name: string): T | undefined => {
    const value = from.get(name);
    from.delete(name);
    return value;
  };
  return {
    read(name) {
      const bytes = take(left, name);
      return bytes ? Promise.resolve(new Uint8Array(bytes)) : source.read(name);
    },
    readWasm: () => source.readWasm(),
    arriving: (name) => take(streams, name),
  };
}

/**
 * The gzip file `name`, verified and unpacked into the `bytes` the manifest
 * gives it. A file still arriving is unpacked as it arrives and checked once
 * it is all in; should that fail on the way, the file is read again, and what
 * is wrong with it is said then.
 */
export async function readUnpacked(source: AssetSource, manifest: AssetManifest, name: string, bytes: number): Promise<ArrayBuffer> {
  const stream = source.arriving?.(name);
  if (stream) {
    const unpacked = await unpackArriving(stream, manifest, name, bytes).catch(() => undefined);
    if (unpacked) return unpacked;
  }
  return gunzip(await readVerified(source, manifest, name), name, bytes);
}

async function unpackArriving(stream: ReadableStream<Uint8Array<ArrayBuffer>>, manifest: AssetManifest, name: string, bytes: number): Promise<ArrayBuffer> {
  const record = manifest.files[name];
  if (!record) throw new AssetError(`asset ${name}: not listed in manifest.json`);
  const [forCheck, forUnpack] = stream.tee();
  const [packed, unpacked] = await Promise.all([
    readInto(forCheck, record.bytes, `asset ${name}: more than the ${record.bytes} bytes manifest.json gives it`),
    gunzipStream(forUnpack, name, bytes),
  ]);
  await verifyAsset(manifest, name, packed);
  return unpacked;
}

/**
 * Every piece of `stream`, into one buffer of `bytes`: more is an AssetError
 * saying `tooMany`; returns the part filled. The pieces go straight into it,
 * with no list of pieces joined at the end.
 */
async function readInto(stream: ReadableStream<Uint8Array<ArrayBuffer>>, bytes: number, tooMany: string): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const out = new Uint8Array(bytes);
  let at = 0;
  try {
    for (let piece = await reader.read(); !piece.done; piece = await reader.read()) {
      if (at + piece.value.byteLength > bytes) throw new AssetError(tooMany);
      out.set(piece.value, at);
      at += piece.value.byteLength;
    }
  } catch (err) {
    void reader.cancel().catch(() => {});
    throw err;
  }
  return out.subarray(0, at);
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

/** How much packed input the decompressor gets at a time. */
const GUNZIP_SLICE_BYTES = 256 * 1024;

/**
 * Unpacks gzip `data` into one buffer of the `bytes` the manifest says it
 * holds: the pieces go straight into it, with no copy of the input and no
 * list of pieces joined at the end (a page's worker would otherwise hold
 * three snapshot-sized buffers of garbage).
 */
export function gunzip(data: ArrayBuffer, name: string, bytes: number): Promise<ArrayBuffer> {
  // In slices, pulled as the unpacking goes: given the whole file at once, the
  // decompressor held its worker's thread for hundreds of milliseconds, and a
  // PC's heartbeats and the host's pings wait for that thread.
  let at = 0;
  const packed = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      const end = Math.min(at + GUNZIP_SLICE_BYTES, data.byteLength);
      controller.enqueue(new Uint8Array(data, at, end - at));
      at = end;
    },
  });
  return gunzipStream(packed, name, bytes);
}

/** gunzip, from a stream of the packed bytes. */
async function gunzipStream(packed: ReadableStream<Uint8Array<ArrayBuffer>>, name: string, bytes: number): Promise<ArrayBuffer> {
  let out: Uint8Array<ArrayBuffer>;
  try {
    out = await readInto(
      packed.pipeThrough(new DecompressionStream('gzip')),
      bytes,
      `asset ${name}: unpacks to more than the ${bytes} bytes manifest.json gives it`,
    );
  } catch (err) {
    if (err instanceof AssetError) throw err;
    throw new AssetError(`asset ${name}: not valid gzip (${(err as Error).message})`);
  }
  if (out.byteLength !== bytes) throw new AssetError(`asset ${name}: unpacks to ${out.byteLength} bytes, manifest.json gives it ${bytes}`);
  return out.buffer;
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
