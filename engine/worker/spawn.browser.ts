// Starts a VM worker in the browser; Vite bundles the worker entry.
import * as Comlink from 'comlink';
import type { WorkerApi } from './worker-main.ts';
import { VmHandle } from './vm-handle.ts';

export function spawnBrowserVm(): VmHandle {
  const worker = new Worker(new URL('./worker.browser.ts', import.meta.url), { type: 'module', name: 'v86-vm' });
  return new VmHandle(Comlink.wrap<WorkerApi>(worker), worker);
}
