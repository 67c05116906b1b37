// The host's phase machine, checked exhaustively: from a fresh pair, every
// sequence of events the host can meet (workers' reports, pings and their
// answers, deadlines, the operator's commands, workers that hang or end), to
// a depth of DEPTH, each distinct state once (host-world.ts). In every state:
// a primary releases alone only once no secondary can take over, no two PCs
// both serve, and no phase waits without a deadline; and from every state, a
// healed world reaches a protected pair (or the service is lost in truth: no
// PC that runs holds its state); a hand-over falls back to its old secondary
// only while the new one holds nothing. Controls show each check catching the
// unsafe version it is there for.
import { describe, expect, it } from 'vitest';
import { HostCore, type HostEffect, type Phase } from '../../engine/host/host-core.ts';
import type { CommandCall } from '../../engine/replication/commands.ts';
import { HostWorld, type WorldEvent } from './host-world.ts';

const DEPTH = 8;

interface Walk {
  states: number;
  sequences: number;
  violations: string[];
}

function replay(path: readonly WorldEvent[], warmSpare = false): HostWorld {
  const world = new HostWorld(warmSpare);
  for (const event of path) world.apply(event);
  return world;
}

/** Every sequence of events to `depth`, breadth first, each state once; the first few violations, each with the path to it. */
function walk(depth: number, stopAfter = 3, warmSpare = false): Walk {
  const seen = new Set<string>([new HostWorld(warmSpare).key()]);
  let frontier: WorldEvent[][] = [[]];
  let sequences = 0;
  const violations: string[] = [];
  for (let level = 0; level < depth && frontier.length > 0 && violations.length < stopAfter; level++) {
    const next: WorldEvent[][] = [];
    for (const path of frontier) {
      for (const event of replay(path, warmSpare).events()) {
        sequences++;
        const to = [...path, event];
        const world = replay(to, warmSpare);
        const key = world.key();
        if (seen.has(key)) continue;
        seen.add(key);
        const healed = replay(to, warmSpare);
        const end = healed.heal();
        const found = [
          ...world.violations,
          ...healed.violations,
          ...(end === 'wedged' ? [`a healed world is not protected again (phase ${healed.core.phase.kind})`] : []),
        ];
        if (found.length > 0) violations.push(`${found[0] ?? ''} after ${to.join(', ')}`);
        next.push(to);
      }
    }
    frontier = next;
  }
  return { states: seen.size, sequences, violations };
}

/** Replaces `name` on HostCore's prototype for the length of `body`. */
function unsafe<T>(name: string, value: unknown, body: () => T): T {
  const proto = HostCore.prototype as unknown as Record<string, unknown>;
  const own = proto[name];
  proto[name] = value;
  try {
    return body();
  } finally {
    proto[name] = own;
  }
}

interface Inside {
  phaseNow: Phase;
  pcs: Record<'primary' | 'secondary', { running: boolean; fate: string }>;
  send(side: 'primary' | 'secondary', call: CommandCall): HostEffect;
  orderTakeover(call: CommandCall): HostEffect[];
  suspect(reporter: 'primary' | 'secondary', detail: string, silentMs: number): HostEffect[];
  formerNow: unknown;
  fallBack(): HostEffect[];
  onStatus(side: 'primary' | 'secondary', status: { phase: string }): HostEffect[];
  settleAlone(): HostEffect[];
}
// The originals, for the unsafe versions that wrap them.
const { orderTakeover, suspect, onStatus, settleAlone } = HostCore.prototype as unknown as Inside;

describe("the host's phases, every sequence of events", () => {
  it(`to a depth of ${DEPTH}: safe in every state, and protected again once the world heals`, () => {
    const started = performance.now();
    const result = walk(DEPTH, 10);
    console.log(
      `phases: ${result.states} states visited through ${result.sequences} sequences of up to ${DEPTH} events in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(result.violations).toEqual([]);
    expect(result.states).toBeGreaterThan(10_000);
  });

  // The page keeps a spare waiting while protected: the same checks with one, a level less deep (it adds a PC's worth of states).
  it(`with a warm spare, to a depth of ${DEPTH - 1}: the same`, () => {
    const started = performance.now();
    const result = walk(DEPTH - 1, 10, true);
    console.log(
      `phases with a warm spare: ${result.states} states through ${result.sequences} sequences of up to ${DEPTH - 1} events in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(result.violations).toEqual([]);
    expect(result.states).toBeGreaterThan(10_000);
  });

  it('catches a primary let go before its secondary is fenced', () => {
    // The old order of settling: confirmAlone first, the fence after (or never).
    const settle = function (this: Inside): HostEffect[] {
      this.phaseNow = { kind: 'alone', survivor: 'primary' };
      return [this.send('primary', { command: 'confirmAlone', args: [] })];
    };
    const result = unsafe('settleAlone', settle, () => walk(4, 1));
    expect(result.violations[0]).toMatch(/^the primary released alone while the secondary could still take over after /);
  });

  it('catches an ordered takeover that waits for good', () => {
    const order = function (this: Inside, call: CommandCall): HostEffect[] {
      const effects = orderTakeover.call(this, call);
      this.phaseNow = { kind: 'takeover', deadline: Number.POSITIVE_INFINITY };
      return effects;
    };
    const result = unsafe('orderTakeover', order, () => walk(4, 1));
    expect(result.violations[0]).toMatch(/^(the host waits in takeover with no deadline|a healed world is not protected again \(phase takeover\)) after /);
  });

  // A move makes before it breaks: the old secondary (the former) is kept until the new one holds a checkpoint.
  it('a hand-over whose primary fails before the new secondary holds a checkpoint: the old secondary takes over', () => {
    const world = replay(['checkpoint', 'spare-ready', 'hand-over'], true);
    expect(world.core.protected).toBe(true);
    expect(world.former).toBeDefined();
    world.apply('kill:primary');
    world.apply('silent:secondary');
    for (let i = 0; i < 10 && world.core.serving !== 'secondary'; i++) world.apply(world.events(true)[0] ?? 'tick');
    expect(world.core.serving).toBe('secondary');
    expect(world.core.names.secondary).toBe('PC B');
    expect(world.pcs.secondary.state).toBe('took-over');
    expect(world.violations).toEqual([]);
  });

  it('catches a hand-over that falls back to its former after the new secondary held a checkpoint', () => {
    // The former kept past the new secondary's checkpoint (the primary's report of it does not retire it), and preferred to the new secondary.
    const keepFormer = function (this: Inside, side: 'primary' | 'secondary', status: { phase: string }): HostEffect[] {
      if (side !== 'primary' || status.phase === 'exited') return onStatus.call(this, side, status);
      const former = this.formerNow;
      this.formerNow = undefined;
      const effects = onStatus.call(this, side, status);
      this.formerNow ??= former;
      return effects;
    };
    const preferFormer = function (this: Inside, call: CommandCall): HostEffect[] {
      return [...(this.formerNow ? this.fallBack() : []), ...orderTakeover.call(this, call)];
    };
    const result = unsafe('onStatus', keepFormer, () => unsafe('orderTakeover', preferFormer, () => walk(6, 1, true)));
    expect(result.violations[0]).toMatch(/^the host fell back to the former though the new secondary held a checkpoint after /);
  });

  it('catches a primary let go alone while the old secondary of a hand-over could still take over', () => {
    const settleKeepingFormer = function (this: Inside): HostEffect[] {
      const former = this.formerNow;
      this.formerNow = undefined;
      const effects = settleAlone.call(this);
      this.formerNow = former;
      return effects;
    };
    const result = unsafe('settleAlone', settleKeepingFormer, () => walk(5, 1, true));
    expect(result.violations[0]).toMatch(/^the primary released alone while the former could still take over after /);
  });

  it('catches a suspicion whose ping has no deadline', () => {
    const suspectForever = function (this: Inside, reporter: 'primary' | 'secondary', detail: string, silentMs: number): HostEffect[] {
      const effects = suspect.call(this, reporter, detail, silentMs);
      const phase = this.phaseNow;
      if (phase.kind === 'arbitrating')
        this.phaseNow = { kind: 'arbitrating', suspicions: phase.suspicions.map((s) => ({ ...s, deadline: Number.POSITIVE_INFINITY })) };
      return effects;
    };
    const result = unsafe('suspect', suspectForever, () => walk(4, 1));
    expect(result.violations[0]).toMatch(/^(the host waits in arbitrating with no deadline|a healed world is not protected again)/);
  });
});
