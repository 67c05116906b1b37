// The page fetches each guest file once for all its PCs, and every PC gets its own copy; the snapshot reaches each
// PC as it downloads, from its first byte, and a PC unpacks it as it arrives. What the page could not fetch is left
// to the worker, which says what is wrong with it.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readUnpacked, withGivenFiles, type AssetSource } from '../../engine/vm/asset-source.ts';
import { GUEST_CONFIG, type AssetManifest } from '../../engine/vm/guest-config.ts';
import { KeptDownload } from '../../engine/worker/kept-download.ts';
import { SharedAssetFetch } from '../../engine/worker/shared-asset-fetch.ts';

afterEach(() => vi.unstubAllGlobals());

const text = (bytes: ArrayBuffer | Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = async (stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined) => text(await new Response(stream).arrayBuffer());

/** A response whose body the test writes piece by piece. */
function trickle() {
  let push: (piece: string) => void = () => {};
  let end: () => void = () => {};
  let fail: (err: Error) => void = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (piece) => controller.enqueue(new TextEncoder().encode(piece));
      end = () => controller.close();
      fail = (err) => controller.error(err);
    },
  });
  return { response: new Response(body), push, end, fail };
}

describe('shared asset fetch', () => {
  it('fetches each file once, hands every PC its own copy and the snapshot as it arrives, and leaves out what it could not fetch', async () => {
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(new URL(url).pathname);
      if (url.endsWith(GUEST_CONFIG.files.vgaBios)) return new Response('gone', { status: 404 });
      const body = url.endsWith('manifest.json') ? JSON.stringify({ tracking: { file: 'v86-tracking.wasm' } }) : `bytes of ${new URL(url).pathname}`;
      return new Response(body);
    });
    const shared = new SharedAssetFetch();
    const options = { mode: 'snapshot' as const, assetBase: 'http://page.test/app/' };
    const [a, b] = await Promise.all([shared.filesFor(options), shared.filesFor(options)]);
    expect(Object.keys(a.files).sort()).toEqual(['manifest.json', 'seabios.bin', 'v86-tracking.wasm']);
    expect(Object.keys(a.arriving)).toEqual([GUEST_CONFIG.files.snapshot]);
    // Copies: each can be moved into its own worker.
    expect(a.files['seabios.bin']).not.toBe(b.files['seabios.bin']);
    expect(text(b.files['seabios.bin'] as ArrayBuffer)).toBe('bytes of /app/seabios.bin');
    expect(await bytesOf(a.arriving[GUEST_CONFIG.files.snapshot])).toBe(`bytes of /app/${GUEST_CONFIG.files.snapshot}`);
    expect(await bytesOf(b.arriving[GUEST_CONFIG.files.snapshot])).toBe(`bytes of /app/${GUEST_CONFIG.files.snapshot}`);
    // A spare, later, reads the kept bytes.
    expect(await bytesOf((await shared.filesFor(options)).arriving[GUEST_CONFIG.files.snapshot])).toBe(`bytes of /app/${GUEST_CONFIG.files.snapshot}`);
    expect(fetched.sort()).toEqual(['/app/booted-state.v86gz', '/app/manifest.json', '/app/seabios.bin', '/app/v86-tracking.wasm', '/app/vgabios-stdvga.bin']);
    expect(await shared.filesFor({ ...options, mode: 'boot' })).toEqual({ files: {}, arriving: {} });
  });

  it('a download read before, during and after it arrives gives each reader every byte from the first; a failed one errors them', async () => {
    const first = trickle();
    vi.stubGlobal('fetch', async () => first.response);
    const download = new KeptDownload('http://page.test/a');
    const early = bytesOf(download.stream());
    first.push('one ');
    // Once the first piece is in, a reader that starts now still reads it.
    expect(text((await download.stream().getReader().read()).value ?? new Uint8Array())).toBe('one ');
    const during = bytesOf(download.stream());
    first.push('two');
    first.end();
    expect(await early).toBe('one two');
    expect(await during).toBe('one two');
    expect(await bytesOf(download.stream())).toBe('one two');

    const second = trickle();
    vi.stubGlobal('fetch', async () => second.response);
    const failing = new KeptDownload('http://page.test/b');
    const reader = bytesOf(failing.stream());
    second.push('half');
    second.fail(new Error('connection reset'));
    await expect(reader).rejects.toThrow('connection reset');
    await expect(bytesOf(failing.stream())).rejects.toThrow('connection reset');
  });

  it('a PC reads the given files once, and everything else from its own source', async () => {
    const own: AssetSource = { read: async (name) => new TextEncoder().encode(`own ${name}`), readWasm: async () => new ArrayBuffer(1) };
    const source = withGivenFiles(
      own,
      { 'seabios.bin': new TextEncoder().encode('given').buffer },
      { 'a.gz': new Response('arriving').body as ReadableStream<Uint8Array<ArrayBuffer>> },
    );
    const read = async (name: string) => text(await source.read(name));
    expect(await read('seabios.bin')).toBe('given');
    expect(await read('seabios.bin')).toBe('own seabios.bin');
    expect(await read('manifest.json')).toBe('own manifest.json');
    expect(await bytesOf(source.arriving?.('a.gz'))).toBe('arriving');
    expect(source.arriving?.('a.gz')).toBeUndefined();
  });

  it('unpacks a file as it arrives, checked against the manifest; one that arrives wrong is read again, and what is wrong is said then', async () => {
    const state = new TextEncoder().encode('the booted state '.repeat(500));
    const packed = gzipSync(state);
    const manifest = {
      files: { 's.gz': { bytes: packed.length, sha256: createHash('sha256').update(packed).digest('hex') } },
    } as unknown as AssetManifest;
    const reads: string[] = [];
    const own = (served: Uint8Array): AssetSource => ({
      read: async (name) => {
        reads.push(name);
        return served;
      },
      readWasm: async () => new ArrayBuffer(1),
    });
    const arriving = (bytes: Uint8Array) => ({ 's.gz': new Response(bytes.slice()).body as ReadableStream<Uint8Array<ArrayBuffer>> });

    expect(text(await readUnpacked(withGivenFiles(own(packed), {}, arriving(packed)), manifest, 's.gz', state.length))).toBe(text(state));
    expect(reads).toEqual([]);

    const altered = packed.map((byte, i) => (i === 20 ? byte ^ 1 : byte));
    expect(text(await readUnpacked(withGivenFiles(own(packed), {}, arriving(altered)), manifest, 's.gz', state.length))).toBe(text(state));
    expect(reads).toEqual(['s.gz']);
    await expect(readUnpacked(withGivenFiles(own(altered), {}, arriving(altered)), manifest, 's.gz', state.length)).rejects.toThrow(
      /^asset s.gz: sha256 mismatch/,
    );
  });
});
