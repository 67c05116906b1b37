// Starts a VM worker under Node (worker_threads), for tests and tools. Node 20
// cannot run TypeScript itself, so the worker registers tsx before the entry.
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import * as Comlink from 'comlink';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerApi } from './worker-main.ts';
import { VmHandle } from './vm-handle.ts';

const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
const tsxApi = pathToFileURL(join(dirname(tsxPackage), 'dist/esm/api/index.mjs')).href;
const entry = new URL('./worker.node.ts', import.meta.url).href;
const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;

export function spawnNodeVm(): VmHandle {
  const worker = new Worker(bootstrap, { eval: true });
  return new VmHandle(Comlink.wrap<WorkerApi>(nodeEndpoint(worker)), worker);
}
