// Runs many seeded schedules and sums up what they reached, in this thread or
// spread over worker threads (one per core: the schedules are independent).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { scheduleFromSeed, type Schedule } from './schedule.ts';
import { RECOVERY_BOUND_MS, runSchedule, type Reached } from './simulate.ts';

export interface Failure {
  schedule: Schedule;
  violations: string[];
}

/** Counts summed over schedules, as they are. */
const SUMMED = [
  'steps',
  'checkpoints',
  'answered',
  'deltas',
  'fullStates',
  'sharedBaseSyncs',
  'fullSyncs',
  'loadsRefused',
  'relaunches',
  'failovers',
  'reprotections',
  'handOvers',
  'fallBacks',
  'arbitrations',
  'falseFailovers',
  'unseenFaults',
  'dismissals',
  'mismatches',
  'threadBlocks',
] as const;
/** Yes-or-no facts of a schedule, counted as the schedules where they held. */
const FLAGS = ['compare', 'serviceLost', 'livenessJudged'] as const;
/** Figures of a schedule of which a run keeps the largest. */
const WORST = ['recoveryMs'] as const;

/** What a run of schedules reached, summed; `compare`, `serviceLost`, `livenessJudged`: in how many schedules; `recoveryMs`: the longest. */
export type RunSummary = Record<(typeof SUMMED)[number] | (typeof FLAGS)[number] | (typeof WORST)[number] | 'schedules', number> & { failures: Failure[] };

function emptySummary(): RunSummary {
  const summary = { schedules: 0, failures: [] as Failure[] } as RunSummary;
  for (const key of [...SUMMED, ...FLAGS, ...WORST]) summary[key] = 0;
  return summary;
}

function addReached(into: RunSummary, reached: Reached): void {
  into.schedules += 1;
  for (const key of SUMMED) into[key] += reached[key];
  for (const key of FLAGS) if (reached[key]) into[key] += 1;
  for (const key of WORST) into[key] = Math.max(into[key], reached[key]);
}

export function merge(summaries: RunSummary[]): RunSummary {
  const total = emptySummary();
  for (const s of summaries) {
    for (const key of ['schedules', ...SUMMED, ...FLAGS] as const) total[key] += s[key];
    for (const key of WORST) total[key] = Math.max(total[key], s[key]);
    total.failures.push(...s.failures);
  }
  return total;
}

/** The schedules of `seeds` (shaped by `shape`, if given) in this thread. */
export async function runSeeds(seeds: number[], shape: (seed: number) => Schedule = scheduleFromSeed): Promise<RunSummary> {
  const summary = emptySummary();
  for (const seed of seeds) {
    const result = await runSchedule(shape(seed));
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
  // A schedule's world lives for milliseconds but outlives a few scavenges, so
  // it reaches the old space; from V8's small initial old space that meant a
  // full collection every few schedules. A larger start (read when a worker's
  // heap is made) took about a fifth off a run.
  setFlagsFromString('--initial-old-space-size=128');
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

/** What a run reached, a line per subject. */
export function describeSummary(s: RunSummary): string[] {
  return [
    `${s.schedules} schedules, ${s.steps} steps`,
    `${s.checkpoints} checkpoints loaded (${s.deltas} deltas, ${s.fullStates} full states; initial syncs ${s.sharedBaseSyncs} on the shared base, ${s.fullSyncs} full)`,
    `${s.answered} replies released; compare mode in ${s.compare} schedules (${s.mismatches} replies differed or timed out)`,
    `${s.threadBlocks} blocks of a PC's thread (a capture, an initial sync, a check or a load)`,
    `${s.loadsRefused} loads refused, ${s.relaunches} relaunches, ${s.failovers} failovers, ${s.dismissals} suspicions dismissed (the suspect answered the host), ${s.arbitrations} arbitrations`,
    `${s.falseFailovers} false alarms (protection ended with no fault at all), ${s.unseenFaults} ends of protection for a fault the host could only see by silence (a hang, a closed tab)`,
    `${s.reprotections} re-protections, ${s.handOvers} moves of the secondary (in ${s.fallBacks} the old secondary took over for the new one); service lost in ${s.serviceLost}`,
    `liveness judged in ${s.livenessJudged}, protected again at most ${s.recoveryMs} ms after the world healed (bound ${RECOVERY_BOUND_MS} ms)`,
    `violations in ${s.failures.length}`,
  ];
}
