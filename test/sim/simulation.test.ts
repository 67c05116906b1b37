// Seeded fault schedules over the real replication stack (see simulate.ts).
// Each run: the pinned seeds, plus fresh ones from a base seed it prints, so
// every CI run explores new schedules. A failure is shrunk and printed with how
// to replay it: SIM_SEED=n (one seed), SIM_SCHEDULE='<json>' (a shrunk one),
// SIM_BASE_SEED=n (the same fresh seeds), SIM_SCHEDULES=n (how many).
import { describe, expect, it } from 'vitest';
import { describeSummary, runSeeds, runSeedsInWorkers, type RunSummary } from './run-schedules.ts';
import { scheduleFromSeed, type Schedule } from './schedule.ts';
import { shrink } from './shrink.ts';
import { runSchedule } from './simulate.ts';
import { REGRESSIONS } from './regressions.ts';

const COUNT = Number(process.env.SIM_SCHEDULES ?? 10_000);
const PINNED = 2000;
const THREADS = Number(process.env.SIM_THREADS ?? 2);

function seedsToRun(): { seeds: number[]; base?: number } {
  if (process.env.SIM_SEED !== undefined) return { seeds: [Number(process.env.SIM_SEED)] };
  const base = Number(process.env.SIM_BASE_SEED ?? 1_000_000 + Math.floor(Math.random() * 2 ** 30));
  const pinned = Array.from({ length: Math.min(PINNED, COUNT) }, (_, i) => i + 1);
  const fresh = Array.from({ length: Math.max(0, COUNT - PINNED) }, (_, i) => base + i);
  return { seeds: [...pinned, ...fresh], base };
}

async function report(summary: RunSummary): Promise<string> {
  const first = summary.failures[0];
  if (!first) return '';
  const small = await shrink(first.schedule);
  return (
    `${summary.failures.length} schedules failed; seeds ${summary.failures
      .map((f) => f.schedule.seed)
      .slice(0, 20)
      .join(', ')}\n` +
    `first: seed ${first.schedule.seed}: ${first.violations.join('; ')}\n` +
    `shrunk in ${small.runs} runs to: ${small.violations.join('; ')}\n` +
    `replay: SIM_SCHEDULE='${JSON.stringify(small.schedule)}' npx vitest run test/sim -t replay\n` +
    `   or: SIM_SEED=${first.schedule.seed} npx vitest run test/sim -t schedules`
  );
}

describe('seeded fault schedules', () => {
  it(`${process.env.SIM_SEED === undefined ? COUNT : 1} schedules keep every invariant, and reach what they must`, async () => {
    const { seeds, base } = seedsToRun();
    if (base !== undefined)
      console.log(`simulation: seeds 1–${Math.min(PINNED, COUNT)} and fresh seeds from base ${base} (SIM_BASE_SEED=${base} replays them)`);
    const started = performance.now();
    const summary = seeds.length > 50 && THREADS > 1 ? await runSeedsInWorkers(seeds, THREADS) : await runSeeds(seeds);
    console.log(`simulation: ${describeSummary(summary).join('; ')}; ${((performance.now() - started) / 1000).toFixed(1)} s in ${THREADS} threads`);
    expect(await report(summary)).toBe('');
    if (seeds.length >= 1000) {
      // A simulation that no longer reaches these paths proves nothing about them.
      for (const key of [
        'compare',
        'deltas',
        'fullStates',
        'sharedBaseSyncs',
        'fullSyncs',
        'loadsRefused',
        'relaunches',
        'failovers',
        'arbitrations',
        'dismissals',
        'reprotections',
        'handOvers',
        'fallBacks',
        'mismatches',
        'threadBlocks',
      ] as const) {
        expect(summary[key], key).toBeGreaterThan(0);
      }
    }
    // A shared machine can be slow: the figure to watch is printed above (the project's time limit only stops a runaway).
  });

  it.runIf(process.env.SIM_SCHEDULE !== undefined)('replay SIM_SCHEDULE', async () => {
    const r = await runSchedule(JSON.parse(process.env.SIM_SCHEDULE ?? '{}') as Schedule);
    expect(r.violations).toEqual([]);
  });

  it.each(REGRESSIONS.map((r) => [r.name, r.schedule] as const))('regression: %s', async (_name, schedule) => {
    const r = await runSchedule(schedule);
    expect(r.violations).toEqual([]);
  });

  it('a long run keeps the host trace bounded', async () => {
    const schedule: Schedule = {
      ...scheduleFromSeed(7),
      actions: [],
      plan: { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 1, reorder: false },
      guests: [0, 1].map(() => ({ bytesPerTick: 4, clockSkewMs: 0, refuseLoads: 0, stopMs: 1, loadMs: 0 })),
      durationMs: 40_000,
      periodMs: 20,
      compare: false,
    };
    const r = await runSchedule(schedule);
    expect(r.violations).toEqual([]);
    expect(r.traceLength).toBeLessThanOrEqual(20_000);
    expect(r.traceDropped).toBeGreaterThan(0);
  });

  it('a primary whose VM never stops for a capture leaves COLO cleanly instead of stalling', async () => {
    const schedule: Schedule = {
      ...scheduleFromSeed(3),
      plan: { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 0, reorder: false },
      actions: [{ at: 500, kind: 'hang-stop' }],
      durationMs: 13_000,
      autoReprotect: false,
    };
    const r = await runSchedule(schedule);
    expect(r.violations).toEqual([]);
    expect(r.primaryExit).toMatch(/^capturing checkpoint \d+ failed: the VM did not stop and save within 10000 ms$/);
    expect(r.answeredAfterExit).toBeGreaterThan(0);
  });
});
