// Starts a VM worker in the browser; Vite bundles the worker entry.
import * as Comlink from 'comlink';
import type { WorkerApi } from './worker-main.ts';
import { PORTED_WORKER_NAME } from './worker-endpoint.ts';
import { SharedAssetFetch } from './shared-asset-fetch.ts';
import { VmHandle } from './vm-handle.ts';

/** Every PC of this page starts from the same fetch of each file. */
const assets = new SharedAssetFetch();

export function spawnBrowserVm(): VmHandle {
  // Vite bundles a worker only where `new Worker(new URL(…))` is written out whole.
  const worker = new Worker(new URL('./worker.browser.ts', import.meta.url), { type: 'module', name: 'v86-vm' });
  return new VmHandle(Comlink.wrap<WorkerApi>(worker), worker, (options) => assets.filesFor(options));
}

/**
 * A VM worker for a host in another realm (a tab starts it, a shared worker
 * drives it): returns the port its commands go to, to be moved to the host.
 */
export function spawnPortedVm(): { port: MessagePort; worker: Worker } {
  const worker = new Worker(new URL('./worker.browser.ts', import.meta.url), { type: 'module', name: PORTED_WORKER_NAME });
  const { port1, port2 } = new MessageChannel();
  worker.postMessage(null, [port2]);
  return { port: port1, worker };
}
