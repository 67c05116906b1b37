// The host's decisions on simulated PCs, one situation at a time: what a new
// pair is given, and what the host refuses while it arbitrates.
import { describe, expect, it } from 'vitest';
import { scheduleFromSeed, type Schedule } from './schedule.ts';
import { createWorld, type SimWorld } from './simulate.ts';

function calm(seed: number, change: Partial<Schedule> = {}): Schedule {
  const base = scheduleFromSeed(seed);
  return {
    ...base,
    plan: { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 1, reorder: false },
    mode: 'strict',
    compare: false,
    periodMs: 200,
    autoReprotect: false,
    guests: base.guests.map((g) => ({ ...g, refuseLoads: 0, loadMs: 0, stopMs: 1, bytesPerTick: 8 })),
    actions: [],
    ...change,
  };
}

// A call into a simulated PC resolves only as virtual time runs: never await
// one without running the scheduler (`until`, `settled`).

/** Runs the world's virtual time on until `done` holds (checked after every step), or fails after `limitMs`. */
async function until(world: SimWorld, done: () => boolean, limitMs: number, what: string): Promise<void> {
  const end = world.scheduler.now() + limitMs;
  while (!done()) {
    if (world.scheduler.now() >= end) throw new Error(`not ${what} within ${limitMs} ms`);
    await world.scheduler.run(world.scheduler.now() + 1, () => {});
  }
}

/** Runs `call` to its end, with virtual time running meanwhile. */
async function settled<T>(world: SimWorld, call: Promise<T>): Promise<T> {
  let done = false;
  const result = call.finally(() => (done = true));
  await until(world, () => done, 1000, 'answered');
  return result;
}

const checkpointsLoaded = (world: SimWorld) => world.cluster.trace.filter((e) => e.kind === 'load' && e.ok).length;

describe('the host', () => {
  // Found trying the page as a new user would: after "Start a new secondary",
  // step mode still showed as on, yet checkpoints flowed freely.
  it('gives a new pair the settings the operator chose, not the ones it started with', async () => {
    const world = createWorld(calm(11));
    const { cluster } = world;
    void cluster.start();
    await until(world, () => cluster.protected, 2000, 'protected');
    cluster.configure({ periodMs: 30 });
    const gate = { step: true, breakBefore: [], delayMs: 5 };
    await settled(world, cluster.configure({ gate }));
    cluster.configure({ outputCommit: 'hold' });
    cluster.killSecondary();
    await until(world, () => cluster.canReprotect, 2000, 'ready to re-protect');
    void cluster.reprotect();
    await until(world, () => cluster.status.secondary !== undefined, 2000, 'a new secondary');
    const before = checkpointsLoaded(world);
    // Step mode holds the new pair's handshake: nothing moves without a step.
    await world.scheduler.run(world.scheduler.now() + 1000, () => {});
    expect(checkpointsLoaded(world)).toBe(before);
    expect(cluster.config.periodMs).toBe(30);
    for (let i = 0; i < 12 && !cluster.protected; i++) {
      await settled(world, cluster.step());
      await world.scheduler.run(world.scheduler.now() + 20, () => {});
    }
    expect(cluster.protected).toBe(true);
    // And once stepping stops, the new pair checkpoints at the chosen period.
    const open = { step: false, breakBefore: [] };
    await settled(world, cluster.configure({ gate: open }));
    const from = checkpointsLoaded(world);
    await world.scheduler.run(world.scheduler.now() + 1000, () => {});
    expect(checkpointsLoaded(world) - from).toBeGreaterThan(1000 / 200);
    cluster.dispose();
  });

  // While the host arbitrates it does not know which PC survives: a new
  // secondary started then took the state of a PC the host might fence next.
  it('refuses to start a new secondary, or to obey "Failover now", while it arbitrates', async () => {
    let seen = false;
    for (let seed = 1; seed <= 40 && !seen; seed++) {
      const world = createWorld(calm(seed));
      const { cluster } = world;
      void cluster.start();
      await until(world, () => cluster.protected, 2000, 'protected');
      const primary = cluster.primary;
      if (primary) primary.pingDelayMs = 90;
      // Where the cut falls between heartbeats decides which side notices first.
      await world.scheduler.run(world.scheduler.now() + ((seed * 7) % 40), () => {});
      world.network.cutAll();
      cluster.cutLink();
      await until(world, () => cluster.arbitrationPending || cluster.status.primary?.phase === 'exited', 1000, 'a side noticing the cut');
      if (!cluster.arbitrationPending) continue;
      await until(world, () => cluster.status.primary?.phase === 'exited' || !cluster.arbitrationPending, 1000, 'the primary out of COLO');
      if (!cluster.arbitrationPending) continue;
      seen = true;
      // The primary has left COLO, which alone would allow a new pair.
      expect(cluster.canReprotect).toBe(false);
      await expect(settled(world, cluster.reprotect())).rejects.toThrow('cluster: nothing to re-protect');
      const commands = cluster.trace.filter((e) => e.kind === 'host' && e.action === 'failover-command').length;
      cluster.failover();
      expect(cluster.trace.filter((e) => e.kind === 'host' && e.action === 'failover-command').length).toBe(commands);
      await until(world, () => !cluster.arbitrationPending, 1000, 'arbitrated');
      // The link failed, the primary answered: it serves on, alone, and may now be re-protected.
      expect(cluster.serving).toBe('primary');
      await until(world, () => cluster.canReprotect, 1000, 'ready to re-protect');
      cluster.dispose();
    }
    expect(seen, 'no seed reached an arbitration with the primary out of COLO').toBe(true);
  });
});
