// Browser worker entry: assets are fetched from the page's origin.
import wasmUrl from 'v86/build/v86.wasm?url';
import { fetchAssetSource } from '../vm/asset-source.ts';
import { workerEndpoint } from './worker-endpoint.ts';
import { serveWorker } from './worker-main.ts';

// Chromium's non-standard performance.memory is the only heap figure a worker has.
const heapUsed = () => (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN;
const scope = self as unknown as Worker & { name: string };

void workerEndpoint(scope).then((endpoint) =>
  serveWorker(endpoint, (assetBase) => fetchAssetSource(assetBase, new URL(wasmUrl, self.location.href).href), heapUsed),
);
