// The handle of a VM worker that another realm started: in a two-tab run a tab
// starts the worker (spawnPortedVm) and the shared host drives it through a
// port. Apart from spawn.browser.ts, so the host's bundle starts no workers.
import * as Comlink from 'comlink';
import type { WorkerApi } from './worker-main.ts';
import { SharedAssetFetch } from './shared-asset-fetch.ts';
import { VmHandle, type WorkerLike } from './vm-handle.ts';

/** Every PC this host drives starts from the same fetch of each file. */
const assets = new SharedAssetFetch();

/** The host's handle of a VM worker it reaches through `port`; `worker` ends it (by asking the tab that runs it). */
export function portedVmHandle(port: MessagePort, worker: WorkerLike): VmHandle {
  return new VmHandle(Comlink.wrap<WorkerApi>(port), worker, (options) => assets.filesFor(options));
}
