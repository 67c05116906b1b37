// The host's decisions on simulated PCs, one situation at a time: what a new
// pair is given, what the host does while it checks a suspicion, and faults
// that fall while a survivor starts its part in a new pair.
import { describe, expect, it } from 'vitest';
import { scheduleFromSeed, type Schedule } from './schedule.ts';
import { createWorld, type SimWorld } from './simulate.ts';
import { settled as settledTime, until as untilTime } from './virtual-time.ts';

function calm(seed: number, change: Partial<Schedule> = {}): Schedule {
  const base = scheduleFromSeed(seed);
  return {
    ...base,
    plan: { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 1, reorder: false },
    mode: 'strict',
    compare: false,
    periodMs: 200,
    autoReprotect: false,
    guests: base.guests.map((g) => ({ ...g, refuseLoads: 0, loadMs: 0, stopMs: 1, bytesPerTick: 8, blockMs: 0 })),
    actions: [],
    ...change,
  };
}

const until = (world: SimWorld, done: () => boolean, limitMs: number, what: string) => untilTime(world.scheduler, done, limitMs, what);
const settled = <T>(world: SimWorld, call: Promise<T>) => settledTime(world.scheduler, call);

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
    cluster.kill('secondary');
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

  // A suspicion is only checked, never acted on: "Failover now" during the
  // check is obeyed, and the ping's answer, coming after the takeover, decides nothing.
  it('obeys "Failover now" while it checks a suspicion, and the late answer changes nothing', async () => {
    const world = createWorld(calm(5));
    const { cluster } = world;
    void cluster.start();
    await until(world, () => cluster.protected, 2000, 'protected');
    const primary = cluster.primary;
    if (primary) primary.pingDelayMs = 90;
    world.network.cutAll();
    cluster.cutLink();
    await until(world, () => cluster.arbitrationPending, 1000, 'a suspicion being checked');
    const suspected = cluster.trace.filter((e) => e.kind === 'host' && e.action === 'suspect');
    expect(suspected.length).toBeGreaterThan(0);
    const dismissals = () => cluster.trace.filter((e) => e.kind === 'host' && e.action === 'dismiss').length;
    const dismissedBefore = dismissals();
    cluster.failover();
    expect(cluster.trace.filter((e) => e.kind === 'host' && e.action === 'failover-command').length).toBe(1);
    await until(world, () => cluster.serving === 'secondary', 1000, 'the secondary serving');
    await world.scheduler.run(world.scheduler.now() + 300, () => {});
    expect(cluster.serving).toBe('secondary');
    expect(dismissals()).toBe(dismissedBefore);
    await until(world, () => cluster.canReprotect, 1000, 'ready to re-protect');
    cluster.dispose();
  });
  // "Reboot the guest" arms both PCs of the pair. v86's BIOS reads the
  // kernel's option ROM from the PC itself (fw_cfg), so a spare that joined
  // unarmed, and took over in the middle of a reboot, would not boot: every
  // PC that joins later is armed before it joins.
  it('arms the spare, and every PC that joins after a reboot was armed, before it joins', async () => {
    const world = createWorld(calm(13));
    const { cluster } = world;
    void cluster.start();
    await until(world, () => cluster.protected, 2000, 'protected');
    await settled(world, cluster.armReboot());
    expect([cluster.primary?.rebootArmed, cluster.secondary?.rebootArmed]).toEqual([true, true]);
    cluster.kill('secondary');
    await until(world, () => cluster.canReprotect && !!cluster.spare?.ready, 2000, 'a spare ready to protect');
    const spare = world.nodes.find((node) => node.guest.name === cluster.spare?.name);
    expect(spare?.rebootArmed).toBe(true);
    void cluster.reprotect();
    await until(world, () => cluster.protected, 2000, 'protected again');
    expect(cluster.secondary).toBe(spare);
    cluster.dispose();

    // A spare already waiting when the reboot is armed is armed with the pair.
    const waiting = createWorld(calm(14));
    void waiting.cluster.start();
    await until(waiting, () => waiting.cluster.protected, 2000, 'protected');
    waiting.cluster.kill('secondary');
    await until(waiting, () => !!waiting.cluster.spare?.ready, 2000, 'a spare waiting');
    await settled(waiting, waiting.cluster.armReboot());
    expect(waiting.nodes.find((node) => node.guest.name === waiting.cluster.spare?.name)?.rebootArmed).toBe(true);
    waiting.cluster.dispose();
  });
  // A survivor told to lead a new pair that waits before it starts that part
  // (as one that read the booted snapshot again first once did): a freeze in
  // that moment reached its old, exited driver, and the new driver the start
  // then made ran unfrozen: a PC the host knew hung went on replicating and
  // was shown protected.
  it('keeps a PC frozen while it starts its part in a new pair: it starts nothing', async () => {
    const world = createWorld(
      calm(17, {
        guests: scheduleFromSeed(17).guests.map((g) => ({ ...g, refuseLoads: 0, loadMs: 0, stopMs: 1, bytesPerTick: 8, bootMs: 0, leadDelayMs: 300 })),
      }),
    );
    const { cluster } = world;
    void cluster.start();
    await until(world, () => cluster.protected, 2000, 'protected');
    cluster.kill('secondary');
    await until(world, () => cluster.canReprotect && !!cluster.spare?.ready, 2000, 'a spare ready to protect');
    void cluster.reprotect().catch(() => {});
    // The survivor waits 300 ms before it starts its part: freeze it now.
    await world.scheduler.run(world.scheduler.now() + 50, () => {});
    expect(cluster.pair).toBe(2);
    expect(cluster.status.primary).toBeUndefined();
    cluster.freezePrimary();
    await world.scheduler.run(world.scheduler.now() + 1500, () => {});
    expect(cluster.protected).toBe(false);
    expect(cluster.status.primary).toBeUndefined();
    expect(cluster.trace.filter((e) => e.kind === 'capture' && e.time > world.scheduler.now() - 1400)).toEqual([]);
    expect(cluster.serviceLost).toBe('PC A, which served the client, is frozen and no PC can take over');
    cluster.dispose();
  });
});
