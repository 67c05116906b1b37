// Node worker entry (worker_threads): assets are read from a directory.
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { AssetError } from '../vm/asset-check.ts';
import type { AssetSource } from '../vm/asset-source.ts';
import { serveWorker } from './worker-main.ts';

const wasmPath = join(createRequire(import.meta.url).resolve('v86'), '..', 'v86.wasm');

function fileAssetSource(dir: string): AssetSource {
  return {
    async read(name) {
      const path = join(dir, name);
      try {
        return new Uint8Array(await readFile(path));
      } catch (err) {
        throw new AssetError(`asset ${name}: missing (${(err as Error).message})`);
      }
    },
    async readWasm() {
      const bytes = await readFile(wasmPath);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

if (!parentPort) throw new Error('worker.node.ts must run in a worker_threads Worker');
// Under --expose-gc (npm run soak) the figure is live data, not garbage awaiting collection.
const collect = (globalThis as { gc?: () => void }).gc;
serveWorker(nodeEndpoint(parentPort), fileAssetSource, () => {
  collect?.();
  return getHeapStatistics().used_heap_size;
});
