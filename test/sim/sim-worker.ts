// A worker thread that runs its share of seeds and posts what they reached.
import { parentPort, workerData } from 'node:worker_threads';
import { runSeeds } from './run-schedules.ts';

const { seeds } = workerData as { seeds: number[] };
parentPort?.postMessage(await runSeeds(seeds));
