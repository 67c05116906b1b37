// Starts a VM worker under Node (worker_threads), for tests and tools. Node 20
// cannot run TypeScript itself: the worker's code is bundled once per process
// by esbuild and run from a data: URL. (Registering tsx in each worker made
// every PC compile the engine's modules again: 0.5 s more to start a pair and
// 1.2 s more of CPU, measured under Node 20 on this project's 2-core machine.)
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import * as Comlink from 'comlink';
import { buildSync } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerApi } from './worker-main.ts';
import { VmHandle } from './vm-handle.ts';

const entry = new URL('./worker.node.ts', import.meta.url);
let bundle: URL | undefined;

/** The worker's entry and everything it imports, as one module; `import.meta.url` keeps naming the entry, so that it finds v86's files. */
function workerBundle(): URL {
  if (bundle) return bundle;
  const built = buildSync({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'error',
    define: { 'import.meta.url': JSON.stringify(entry.href) },
  });
  const code = built.outputFiles[0]?.text;
  if (code === undefined) throw new Error('spawn.node: esbuild produced no bundle of the worker');
  bundle = new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  return bundle;
}

export function spawnNodeVm(): VmHandle {
  const worker = new Worker(workerBundle());
  return new VmHandle(Comlink.wrap<WorkerApi>(nodeEndpoint(worker)), worker);
}
