// Runs many seeded schedules and sums up what they reached, in this thread or
// spread over worker threads (one per core: the schedules are independent).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { scheduleFromSeed, type Schedule } from './schedule.ts';
import { runSchedule, type Reached } from './simulate.ts';

export interface Failure {
  schedule: Schedule;
  violations: string[];
}

/** What a run of schedules reached, summed. */
export interface RunSummary {
  schedules: number;
  steps: number;
  checkpoints: number;
  answered: number;
  /** Schedules that used compare mode at some point. */
  compare: number;
  deltas: number;
  fullStates: number;
  loadsRefused: number;
  relaunches: number;
  failovers: number;
  reprotections: number;
  arbitrations: number;
  mismatches: number;
  serviceLost: number;
  livenessJudged: number;
  failures: Failure[];
}

const COUNTED = ['steps', 'checkpoints', 'answered', 'deltas', 'fullStates', 'loadsRefused', 'relaunches', 'failovers', 'reprotections', 'arbitrations', 'mismatches'] as const;

export function emptySummary(): RunSummary {
  return {
    schedules: 0,
    steps: 0,
    checkpoints: 0,
    answered: 0,
    compare: 0,
    deltas: 0,
    fullStates: 0,
    loadsRefused: 0,
    relaunches: 0,
    failovers: 0,
    reprotections: 0,
    arbitrations: 0,
    mismatches: 0,
    serviceLost: 0,
    livenessJudged: 0,
    failures: [],
  };
}

export function addReached(into: RunSummary, reached: Reached): void {
  into.schedules += 1;
  for (const key of COUNTED) into[key] += reached[key];
  if (reached.compare) into.compare += 1;
  if (reached.serviceLost) into.serviceLost += 1;
  if (reached.livenessJudged) into.livenessJudged += 1;
}

export function merge(summaries: RunSummary[]): RunSummary {
  const total = emptySummary();
  for (const s of summaries) {
    total.schedules += s.schedules;
    for (const key of COUNTED) total[key] += s[key];
    total.compare += s.compare;
    total.serviceLost += s.serviceLost;
    total.livenessJudged += s.livenessJudged;
    total.failures.push(...s.failures);
  }
  return total;
}

export async function runSeeds(seeds: number[]): Promise<RunSummary> {
  const summary = emptySummary();
  for (const seed of seeds) {
    const result = await runSchedule(scheduleFromSeed(seed));
    addReached(summary, result.reached);
    if (result.violations.length > 0) summary.failures.push({ schedule: result.schedule, violations: result.violations });
  }
  return summary;
}

// Node 20 cannot run TypeScript itself: each worker registers tsx first.
const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
const tsxApi = pathToFileURL(join(dirname(tsxPackage), 'dist/esm/api/index.mjs')).href;
const entry = new URL('./sim-worker.ts', import.meta.url).href;
const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;

/** Runs the seeds in `threads` worker threads, each taking every threads-th seed. */
export async function runSeedsInWorkers(seeds: number[], threads: number): Promise<RunSummary> {
  const shares = Array.from({ length: threads }, (_, i) => seeds.filter((_, k) => k % threads === i));
  const runs = shares.map(
    (share) =>
      new Promise<RunSummary>((resolve, reject) => {
        const worker = new Worker(bootstrap, { eval: true, workerData: { seeds: share } });
        worker.once('message', (summary: RunSummary) => {
          resolve(summary);
          void worker.terminate();
        });
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`simulation worker exited with ${code}`));
        });
      }),
  );
  return merge(await Promise.all(runs));
}

export function describeSummary(s: RunSummary): string {
  return (
    `${s.schedules} schedules, ${s.steps} steps, ${s.checkpoints} checkpoints loaded (${s.deltas} deltas, ${s.fullStates} full states), ` +
    `${s.answered} replies released; compare mode in ${s.compare} schedules (${s.mismatches} replies differed or timed out); ` +
    `${s.loadsRefused} loads refused, ${s.relaunches} relaunches, ${s.failovers} failovers, ${s.arbitrations} arbitrations keeping the primary, ` +
    `${s.reprotections} re-protections; service lost in ${s.serviceLost}; liveness judged in ${s.livenessJudged}; ` +
    `violations in ${s.failures.length}`
  );
}
