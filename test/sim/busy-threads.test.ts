// Busy threads: a PC's captures, initial syncs, checks and loads block its
// only thread (as v86's do in a worker) for up to MAX_BLOCK_MS, and nothing
// else runs there meanwhile: no heartbeat, no answer to the host's ping. A
// side announces such a block first (Link.beginBusy), so its peer waits
// longer before it suspects it. On a network without faults, no schedule may
// then end protection for nothing; the control shows the count catches the
// blocks unannounced (a primary preparing checkpoint 1 once blocked 0.3–1.1 s
// unannounced, and a two-tab run failed over for nothing).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Link } from '../../engine/replication/link.ts';
import { runSeeds } from './run-schedules.ts';
import { MAX_BLOCK_MS, scheduleFromSeed, type Schedule } from './schedule.ts';

const SEEDS = Array.from({ length: 300 }, (_, i) => 50_000 + i);

/** A seed's schedule with every PC's thread blocked for up to MAX_BLOCK_MS, and no fault of the network or of the host's ping. */
function busy(seed: number): Schedule {
  const base = scheduleFromSeed(seed);
  return {
    ...base,
    plan: { drop: 0, duplicate: 0, corrupt: 0, jitterMs: base.plan.jitterMs, reorder: false, payloadMs: base.plan.payloadMs ?? 0 },
    // A ping answered later than the host waits is a false alarm by design: not this test's subject.
    actions: base.actions.filter((action) => action.kind !== 'ping-delay'),
    guests: base.guests.map((guest) => ({ ...guest, blockMs: MAX_BLOCK_MS })),
  };
}

describe('busy threads', () => {
  afterEach(() => vi.restoreAllMocks());

  it(`${SEEDS.length} schedules with PCs blocked up to ${MAX_BLOCK_MS} ms at a time: no false alarm, every invariant kept`, async () => {
    const summary = await runSeeds(SEEDS, busy);
    expect(summary.failures.map((f) => `seed ${f.schedule.seed}: ${f.violations.join('; ')}`)).toEqual([]);
    expect(summary.threadBlocks).toBeGreaterThan(1000);
    expect(summary.falseFailovers).toBe(0);
  });

  it('control: the same blocks unannounced make the host end protection for nothing', async () => {
    vi.spyOn(Link.prototype, 'beginBusy').mockImplementation(() => () => {});
    const summary = await runSeeds(SEEDS, busy);
    expect(summary.falseFailovers).toBeGreaterThan(0);
  });
});
