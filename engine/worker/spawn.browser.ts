// Starts a VM worker in the browser; Vite bundles the worker entry.
import * as Comlink from 'comlink';
import type { WorkerApi } from './worker-main.ts';
import { SharedAssetFetch } from './shared-asset-fetch.ts';
import { VmHandle } from './vm-handle.ts';

/** Every PC of this page starts from the same fetch of each file. */
const assets = new SharedAssetFetch();

export function spawnBrowserVm(): VmHandle {
  const worker = new Worker(new URL('./worker.browser.ts', import.meta.url), { type: 'module', name: 'v86-vm' });
  return new VmHandle(Comlink.wrap<WorkerApi>(worker), worker, (options) => assets.filesFor(options));
}
