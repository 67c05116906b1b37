// The page fetches each guest file once for all its PCs; every PC gets its own copy, and a file it could not fetch is left to the worker.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withGivenFiles, type AssetSource } from '../../engine/vm/asset-source.ts';
import { GUEST_CONFIG } from '../../engine/vm/guest-config.ts';
import { SharedAssetFetch } from '../../engine/worker/shared-asset-fetch.ts';

afterEach(() => vi.unstubAllGlobals());

describe('shared asset fetch', () => {
  it('fetches each file once, hands every PC its own copy, and leaves out what it could not fetch', async () => {
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
    expect(Object.keys(a).sort()).toEqual(['booted-state.v86gz', 'manifest.json', 'seabios.bin', 'v86-tracking.wasm']);
    expect(fetched.sort()).toEqual(['/app/booted-state.v86gz', '/app/manifest.json', '/app/seabios.bin', '/app/v86-tracking.wasm', '/app/vgabios-stdvga.bin']);
    // Copies: each can be moved into its own worker.
    expect(a['seabios.bin']).not.toBe(b['seabios.bin']);
    expect(new TextDecoder().decode(b['seabios.bin'])).toBe('bytes of /app/seabios.bin');
    expect(await shared.filesFor({ ...options, mode: 'boot' })).toEqual({});
  });

  it('a PC reads the given files once, and everything else from its own source', async () => {
    const own: AssetSource = { read: async (name) => new TextEncoder().encode(`own ${name}`), readWasm: async () => new ArrayBuffer(1) };
    const source = withGivenFiles(own, { 'seabios.bin': new TextEncoder().encode('given').buffer });
    const text = async (name: string) => new TextDecoder().decode(await source.read(name));
    expect(await text('seabios.bin')).toBe('given');
    expect(await text('seabios.bin')).toBe('own seabios.bin');
    expect(await text('manifest.json')).toBe('own manifest.json');
  });
});
