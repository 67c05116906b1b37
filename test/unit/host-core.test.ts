// The host's policy, one situation at a time: data in, effects out.
import { describe, expect, it } from 'vitest';
import { HostCore, LATE_TICK_MS, STARVED_GRACE_MS, type HostCoreOptions, type HostEffect, type HostInput } from '../../engine/host/host-core.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';

const OPTIONS: HostCoreOptions = {
  config: DEFAULT_REPLICATION,
  pingTimeoutMs: 500,
  linkFailureMs: 1000,
  takeoverMs: 5000,
  leaveMs: 2000,
  spareStartMs: 60_000,
  handOverMs: 10_000,
};

/** A HostCore with a clock of its own: `at(ms)` moves it on and tells the core the time, as the cluster's timer does. */
class Host {
  readonly core: HostCore;
  now = 0;
  constructor(options: Partial<HostCoreOptions> = {}) {
    this.core = new HostCore({ ...OPTIONS, ...options });
  }
  handle(input: HostInput): HostEffect[] {
    return this.core.handle(input, this.now);
  }
  /** The time moves to `ms`; the core hears a tick. */
  at(ms: number): HostEffect[] {
    this.now = ms;
    return this.handle({ kind: 'tick' });
  }
}

function status(side: Side, change: Partial<ReplicationStatus> = {}): ReplicationStatus {
  return {
    pair: 1,
    settings: { periodMs: 1000, mode: 'strict', outputCommit: 'hold', compare: DEFAULT_REPLICATION.compare, gate: DEFAULT_REPLICATION.gate },
    side,
    role: side,
    phase: 'idle',
    checkpoint: 1,
    committed: 1,
    failover: 'none',
    exitReason: 'none',
    exitDetail: '',
    heldOutputLines: 0,
    runsBetweenCheckpoints: false,
    heartbeatGaps: { peerSilenceMs: 0, ownBeatGapMs: 0 },
    ...change,
  };
}

/** A pair whose secondary holds checkpoint 1: protected. */
function protectedPair(options: Partial<HostCoreOptions> = {}): Host {
  const host = new Host(options);
  host.handle({ kind: 'start' });
  host.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
  host.handle({ kind: 'status', side: 'primary', status: status('primary') });
  return host;
}

const kinds = (effects: HostEffect[]) =>
  effects.map((e) =>
    e.kind === 'trace' ? `trace ${e.action}` : e.kind === 'send' ? `send ${e.side} ${e.call.command}` : e.kind === 'terminate' ? `terminate ${e.side}` : e.kind,
  );

/** `side` reports its peer silent for `ms`. */
const silent = (host: Host, side: Side, ms: number) => host.handle({ kind: 'peer-silent', side, detail: `no message for ${ms} ms`, silentMs: ms });
/** The ping the last effects sent. */
const pingOf = (effects: HostEffect[]): number => {
  const ping = effects.find((e) => e.kind === 'ping');
  if (ping?.kind !== 'ping') throw new Error('no ping sent');
  return ping.ping;
};
const answer = (host: Host, ping: number, answered = true) => host.handle({ kind: 'ping-answered', ping, answered });
/** The secondary reports it took over. */
const takeover = (host: Host) =>
  host.handle({ kind: 'status', side: 'secondary', status: status('secondary', { role: 'primary', phase: 'primary', failover: 'completed' }) });
const primaryExited = (host: Host) =>
  host.handle({ kind: 'status', side: 'primary', status: status('primary', { phase: 'exited', exitReason: 'error', exitDetail: 'no heartbeat' }) });

describe('HostCore', () => {
  it('names the PCs, and says protected once the secondary holds a checkpoint', () => {
    const host = new Host();
    expect(kinds(host.handle({ kind: 'start' }))).toEqual(['trace start']);
    expect(host.core.names).toEqual({ primary: 'PC A', secondary: 'PC B' });
    host.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
    expect(host.core.protected).toBe(false);
    expect(kinds(host.handle({ kind: 'status', side: 'primary', status: status('primary') }))).toEqual(['trace protected']);
    expect(host.core.protected).toBe(true);
    expect(host.core.phase).toEqual({ kind: 'replicating' });
  });

  it('only suspects a silent primary: it pings it, and one that answers keeps serving, still protected', () => {
    const host = protectedPair();
    const effects = silent(host, 'secondary', 110);
    expect(kinds(effects)).toEqual(['trace suspect', 'ping']);
    expect(effects).toContainEqual({ kind: 'ping', side: 'primary', ping: pingOf(effects) });
    expect(host.core.arbitrating).toBe(true);
    // The ping's deadline is the host's own.
    expect(host.core.nextDeadline).toBe(500);
    // A second report while the ping is out asks nothing more.
    expect(silent(host, 'secondary', 130)).toEqual([]);
    expect(kinds(answer(host, pingOf(effects)))).toEqual(['trace dismiss']);
    expect(host.core.dismissedSuspicions).toBe(1);
    expect(host.core.falseFailovers).toBe(0);
    expect(host.core.protected).toBe(true);
    expect(host.core.arbitrating).toBe(false);
    expect(host.core.nextDeadline).toBeUndefined();
  });

  // A ping's answer is tied to the ping: a late answer to an old one decides nothing about a new suspicion.
  it('takes only the answer to the ping it waits for', () => {
    const host = protectedPair();
    const first = pingOf(silent(host, 'secondary', 110));
    answer(host, first);
    const second = pingOf(silent(host, 'secondary', 1200));
    expect(second).not.toBe(first);
    // The old ping answered again (a duplicate, or late): nothing happens.
    expect(answer(host, first)).toEqual([]);
    expect(host.core.arbitrating).toBe(true);
    expect(kinds(answer(host, second))).toEqual(['trace arbitrate', 'trace false-failover', 'send primary peerLost']);
  });

  it('takes a link silent past linkFailureMs while both answer as failed: the primary goes on alone', () => {
    const host = protectedPair();
    const ping = pingOf(silent(host, 'primary', 1200));
    // Nobody cut the link: counted as a false alarm.
    expect(kinds(answer(host, ping))).toEqual(['trace arbitrate', 'trace false-failover', 'send primary peerLost']);
    expect(host.core.falseFailovers).toBe(1);
    expect(host.core.phase).toEqual({ kind: 'leaving', deadline: 2000 });
    // The primary leaves COLO; the host fences the secondary before it may release alone.
    // And a spare PC starts in standby at once, for the re-protection to come.
    expect(kinds(primaryExited(host))).toEqual(['trace fence', 'terminate secondary', 'send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(host.core.serving).toBe('primary');
    expect(host.core.phase).toEqual({ kind: 'alone', survivor: 'primary' });

    const cut = protectedPair();
    cut.handle({ kind: 'cut-link' });
    const cutPing = pingOf(silent(cut, 'secondary', 1000));
    expect(kinds(answer(cut, cutPing))).toEqual(['trace arbitrate', 'send primary peerLost']);
    expect(cut.core.falseFailovers).toBe(0);
  });

  it("has the secondary take over from a primary that does not answer by the ping's deadline, and fences that primary once it has", () => {
    const host = protectedPair();
    silent(host, 'secondary', 110);
    expect(host.at(499)).toEqual([]);
    // The host did not end or freeze it: a live PC too busy to answer, as far as it knows.
    expect(kinds(host.at(500))).toEqual(['trace false-failover', 'trace confirm', 'send secondary peerLost']);
    expect(host.core.falseFailovers).toBe(1);
    expect(host.core.phase).toEqual({ kind: 'takeover', deadline: 5500 });
    expect(kinds(takeover(host))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);
    expect(host.core.serving).toBe('secondary');
    expect(host.core.fate.primary).toBe('fenced');
    expect(host.core.hears('primary')).toBe(false);
    expect(host.handle({ kind: 'released', side: 'secondary', lines: ['c2 ok 2'] })).toEqual([{ kind: 'deliver', side: 'secondary', lines: ['c2 ok 2'] }]);
  });

  it("waits a moment more, once, when its own timer came late for a ping's deadline: an answer that waited behind the timer still counts", () => {
    const host = protectedPair();
    const ping = pingOf(silent(host, 'secondary', 110));
    // The host was starved: its timer for the deadline at 500 runs at 900, before the answer that came meanwhile.
    expect(kinds(host.at(900))).toEqual(['trace late-tick']);
    expect(host.core.nextDeadline).toBe(900 + STARVED_GRACE_MS);
    expect(kinds(answer(host, ping))).toEqual(['trace dismiss']);
    expect(host.core.falseFailovers).toBe(0);

    // Once only: still no answer by the moved deadline, however late the timer, and the suspect failed.
    const starved = protectedPair();
    silent(starved, 'secondary', 110);
    starved.at(900);
    expect(kinds(starved.at(1500))).toEqual(['trace false-failover', 'trace confirm', 'send secondary peerLost']);
    // A timer no later than LATE_TICK_MS judges at once.
    const punctual = protectedPair();
    silent(punctual, 'secondary', 110);
    expect(kinds(punctual.at(500 + LATE_TICK_MS))).toEqual(['trace false-failover', 'trace confirm', 'send secondary peerLost']);
  });

  it('needs no ping for a PC it ended or froze itself, and counts no false alarm then', () => {
    const killed = protectedPair();
    killed.handle({ kind: 'kill', side: 'primary' });
    expect(killed.core.serviceLost).toBeUndefined();
    expect(kinds(silent(killed, 'secondary', 100))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(kinds(takeover(killed))).toEqual(['trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const frozen = protectedPair();
    expect(kinds(frozen.handle({ kind: 'freeze-primary' }))).toEqual(['trace freeze-primary', 'freeze']);
    expect(kinds(silent(frozen, 'secondary', 100))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(kinds(takeover(frozen))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const secondaryGone = protectedPair();
    secondaryGone.handle({ kind: 'kill', side: 'secondary' });
    expect(kinds(silent(secondaryGone, 'primary', 100))).toEqual(['trace suspect', 'trace confirm', 'send primary peerLost']);
    expect([killed, frozen, secondaryGone].map((host) => host.core.falseFailovers)).toEqual([0, 0, 0]);
  });

  // Found by the simulation: the primary answered the ping, then froze before
  // the answer was read; the link was judged failed with a hung primary to go on alone.
  it('confirms a suspect the host froze while its ping was out, and hears a reporter that suspects again', () => {
    const host = protectedPair();
    const ping = pingOf(silent(host, 'secondary', 470));
    expect(kinds(host.handle({ kind: 'freeze-primary' }))).toEqual(['trace freeze-primary', 'freeze', 'trace confirm', 'send secondary peerLost']);
    expect(answer(host, ping)).toEqual([]);

    const again = protectedPair();
    answer(again, pingOf(silent(again, 'secondary', 110)));
    expect(kinds(silent(again, 'secondary', 230))).toEqual(['trace suspect', 'ping']);
  });

  it('lets an answer decide nothing once its reporter is gone or the pair has changed', () => {
    const reporterGone = protectedPair();
    const ping = pingOf(silent(reporterGone, 'secondary', 110));
    reporterGone.handle({ kind: 'kill', side: 'secondary' });
    expect(reporterGone.core.arbitrating).toBe(false);
    expect(answer(reporterGone, ping, false)).toEqual([]);
    expect(reporterGone.core.serving).toBe('primary');

    const changed = protectedPair();
    const stale = pingOf(silent(changed, 'primary', 110));
    changed.handle({ kind: 'kill', side: 'primary' });
    silent(changed, 'secondary', 100);
    takeover(changed);
    expect(changed.core.arbitrating).toBe(false);
    expect(answer(changed, stale, false)).toEqual([]);
  });

  it("fences a secondary that took over without the host's word while the primary runs", () => {
    const host = protectedPair();
    expect(kinds(takeover(host))).toEqual(['trace arbitrate', 'terminate secondary']);
    expect(host.core.serving).toBe('primary');
  });

  it('fences a live secondary before a primary out of COLO releases alone', () => {
    const host = protectedPair();
    expect(kinds(primaryExited(host))).toEqual(['trace fence', 'terminate secondary', 'send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(host.core.fate.secondary).toBe('fenced');
  });

  it('obeys "Failover now" without a ping, even while a suspicion is being checked', () => {
    const host = protectedPair();
    expect(kinds(host.handle({ kind: 'failover' }))).toEqual(['trace failover-command', 'send secondary lostHeartbeat']);
    // The operator is the arbiter: the primary's exit is not settled by fencing the secondary.
    expect(primaryExited(host)).toEqual([]);
    expect(kinds(takeover(host))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const checking = protectedPair();
    const ping = pingOf(silent(checking, 'secondary', 110));
    expect(kinds(checking.handle({ kind: 'failover' }))).toEqual(['trace failover-command', 'send secondary lostHeartbeat']);
    takeover(checking);
    expect(answer(checking, ping)).toEqual([]);
  });

  // Hole 3 of the third round: the secondary hung before it acted on "Failover now".
  it('gives an ordered takeover up at its deadline: the secondary is fenced, the primary leaves COLO and serves alone', () => {
    const host = protectedPair();
    host.handle({ kind: 'failover' });
    expect(host.core.nextDeadline).toBe(5000);
    expect(host.at(4999)).toEqual([]);
    expect(kinds(host.at(5000))).toEqual(['trace fence', 'send primary peerLost', 'terminate secondary']);
    expect(host.core.phase).toEqual({ kind: 'leaving', deadline: 7000 });
    expect(kinds(primaryExited(host))).toEqual(['send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(host.core.phase).toEqual({ kind: 'alone', survivor: 'primary' });
  });

  it('asks a primary that does not leave COLO whether it answers: it waits for one that does, and fences one that does not', () => {
    const host = protectedPair();
    host.handle({ kind: 'kill', side: 'secondary' });
    silent(host, 'primary', 100);
    expect(host.core.phase.kind).toBe('leaving');
    const ping = pingOf(host.at(2000));
    expect(answer(host, ping)).toEqual([]);
    expect(host.core.phase).toEqual({ kind: 'leaving', deadline: 4000 });
    const again = pingOf(host.at(4000));
    expect(kinds(host.at(4500))).toEqual(['trace confirm', 'terminate primary', 'trace service-lost']);
    expect(answer(host, again)).toEqual([]);
    expect(host.core.serviceLost).toBe('PC A, which served the client, is fenced and no PC can take over');

    // A host whose timer came late for that ping's deadline waits a moment more for its answer.
    const starved = protectedPair();
    starved.handle({ kind: 'kill', side: 'secondary' });
    silent(starved, 'primary', 100);
    const late = pingOf(starved.at(2000));
    expect(kinds(starved.at(3000))).toEqual(['trace late-tick']);
    expect(answer(starved, late)).toEqual([]);
    expect(starved.core.phase).toEqual({ kind: 'leaving', deadline: 5000 });
  });

  it('has a secondary that left COLO let the primary go on alone, or say the service is lost without one', () => {
    const host = protectedPair();
    const left = status('secondary', { phase: 'exited', exitReason: 'error', exitDetail: 'loading checkpoint 2 failed' });
    // The secondary tells its primary itself; the host does not race its notice.
    expect(host.handle({ kind: 'status', side: 'secondary', status: left })).toEqual([]);
    // A primary that never heard it falls silent to it: no ping for a PC that left COLO.
    expect(kinds(silent(host, 'primary', 120))).toEqual(['trace suspect', 'trace confirm', 'send primary peerLost']);
    expect(host.core.phase.kind).toBe('leaving');

    const both = protectedPair();
    both.handle({ kind: 'kill', side: 'primary' });
    expect(kinds(both.handle({ kind: 'status', side: 'secondary', status: left }))).toEqual(['trace service-lost']);
    expect(both.core.serviceLost).toBe('PC A, which served the client, is killed and no PC can take over; PC B left COLO: loading checkpoint 2 failed');
  });

  it('says why no PC can serve once neither can, and not while a checkpoint is still on its way to the secondary', () => {
    const host = new Host();
    host.handle({ kind: 'start' });
    host.handle({ kind: 'status', side: 'secondary', status: status('secondary', { committed: 0, phase: 'idle' }) });
    host.handle({ kind: 'kill', side: 'primary' });
    expect(host.core.serviceLost).toBe('PC A, which served the client, is killed and no PC can take over');

    const arriving = new Host();
    arriving.handle({ kind: 'start' });
    arriving.handle({ kind: 'status', side: 'secondary', status: status('secondary', { committed: 0, phase: 'await-size' }) });
    arriving.handle({ kind: 'kill', side: 'primary' });
    expect(arriving.core.serviceLost).toBeUndefined();
    arriving.handle({ kind: 'status', side: 'secondary', status: status('secondary', { committed: 1, phase: 'idle' }) });
    expect(kinds(silent(arriving, 'secondary', 100))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
  });

  it('re-protects the survivor with a new PC that gets the settings the operator chose, as the next pair', () => {
    const host = protectedPair();
    host.handle({ kind: 'configure', change: { periodMs: 30, gate: { step: true, breakBefore: [] } }, side: 'secondary' });
    expect(host.core.canReprotect).toBe(false);
    expect(host.handle({ kind: 'reprotect' })).toEqual([]);
    host.handle({ kind: 'kill', side: 'primary' });
    silent(host, 'secondary', 100);
    // The failover starts a spare in standby; the click makes it the secondary once it is ready.
    expect(takeover(host)).toContainEqual({ kind: 'start-standby', name: 'PC C' });
    expect(host.core.spare).toEqual({ name: 'PC C', ready: false });
    expect(host.core.canReprotect).toBe(true);
    expect(kinds(host.handle({ kind: 'reprotect' }))).toEqual(['trace reprotect']);
    expect(host.core.canReprotect).toBe(false);
    expect(host.core.reprotecting).toBe(true);
    expect(host.handle({ kind: 'standby-ready' })).toEqual([{ kind: 'pair', survivor: 'secondary', pair: 2 }]);
    expect(host.core.spare).toBeUndefined();
    expect(host.core.names).toEqual({ primary: 'PC B', secondary: 'PC C' });
    expect(host.core.serving).toBe('primary');
    expect(host.core.fate).toEqual({ primary: 'alive', secondary: 'alive' });
    expect(host.core.reprotecting).toBe(false);
    expect(host.core.configFor('primary')).toMatchObject({ periodMs: 30, gate: DEFAULT_REPLICATION.gate });
    expect(host.core.configFor('secondary')).toMatchObject({ periodMs: 30, gate: { step: true } });
    // Every command names the new pair: a PC still starting it keeps the command until it has.
    expect(host.handle({ kind: 'configure', change: { outputCommit: 'unsafe' } })).toEqual([
      { kind: 'send', side: 'primary', pair: 2, call: { command: 'configure', args: [{ outputCommit: 'unsafe' }] } },
      { kind: 'send', side: 'secondary', pair: 2, call: { command: 'configure', args: [{ outputCommit: 'unsafe' }] } },
    ]);
  });

  it('pairs at the click with a spare already waiting in standby', () => {
    const host = protectedPair();
    host.handle({ kind: 'kill', side: 'secondary' });
    silent(host, 'primary', 100);
    expect(kinds(primaryExited(host))).toEqual(['send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(host.handle({ kind: 'standby-ready' })).toEqual([]);
    expect(host.core.spare).toEqual({ name: 'PC C', ready: true });
    expect(kinds(host.handle({ kind: 'reprotect' }))).toEqual(['trace reprotect', 'pair']);
    expect(host.core.names).toEqual({ primary: 'PC A', secondary: 'PC C' });
  });

  it('ends a spare once nothing is left for it to protect', () => {
    const host = protectedPair();
    host.handle({ kind: 'kill', side: 'secondary' });
    primaryExited(host);
    expect(kinds(host.handle({ kind: 'kill', side: 'primary' }))).toEqual([
      'trace kill-primary',
      'terminate primary',
      'trace service-lost',
      'terminate standby',
    ]);
    expect(host.core.spare).toBeUndefined();
    expect(host.handle({ kind: 'standby-ready' })).toEqual([]);
  });

  it('abandons a re-protection whose survivor died while the new PC started', () => {
    const host = protectedPair();
    primaryExited(host);
    host.handle({ kind: 'reprotect' });
    expect(kinds(host.handle({ kind: 'kill', side: 'primary' }))).toEqual([
      'trace kill-primary',
      'terminate primary',
      'trace service-lost',
      'terminate standby',
    ]);
    expect(host.handle({ kind: 'standby-ready' })).toEqual([]);
    expect(host.core.reprotecting).toBe(false);
  });

  it('replaces a spare that does not start by its deadline', () => {
    const host = protectedPair();
    primaryExited(host);
    host.handle({ kind: 'reprotect' });
    expect(host.core.nextDeadline).toBe(60_000);
    expect(kinds(host.at(60_000))).toEqual(['terminate standby', 'trace reprotect', 'trace spare', 'start-standby']);
    expect(host.core.spare).toEqual({ name: 'PC D', ready: false });
    expect(host.core.reprotecting).toBe(true);
    expect(kinds(host.handle({ kind: 'standby-ready' }))).toEqual(['pair']);
  });

  it('re-protects by itself once the survivor is settled, when asked to', () => {
    const host = protectedPair();
    host.handle({ kind: 'auto-reprotect', on: true });
    host.handle({ kind: 'kill', side: 'primary' });
    silent(host, 'secondary', 100);
    expect(kinds(takeover(host))).toEqual(['trace primary-changed', 'retry-client', 'trace spare', 'start-standby', 'trace reprotect']);
  });

  it('keeps a warm spare waiting once the pair is protected, not before, and re-protects with it at once after any fault', () => {
    const host = new Host({ warmSpare: true });
    host.handle({ kind: 'start' });
    // Its start would compete with the pair's own: none before the secondary holds a checkpoint.
    expect(kinds(host.handle({ kind: 'status', side: 'secondary', status: status('secondary') }))).toEqual([]);
    expect(kinds(host.handle({ kind: 'status', side: 'primary', status: status('primary') }))).toEqual(['trace protected', 'trace spare', 'start-standby']);
    host.handle({ kind: 'standby-ready' });
    host.handle({ kind: 'auto-reprotect', on: true });
    host.handle({ kind: 'kill', side: 'primary' });
    silent(host, 'secondary', 100);
    // The survivor pairs with the waiting spare in the same step; the next spare waits for the new pair to be protected.
    expect(kinds(takeover(host))).toEqual(['trace primary-changed', 'retry-client', 'trace reprotect', 'pair']);
    expect(host.core.names).toEqual({ primary: 'PC B', secondary: 'PC C' });
    expect(host.core.spare).toBeUndefined();
    host.handle({ kind: 'status', side: 'secondary', status: status('secondary', { pair: 2 }) });
    expect(kinds(host.handle({ kind: 'status', side: 'primary', status: status('primary', { pair: 2 }) }))).toEqual([
      'trace protected',
      'trace spare',
      'start-standby',
    ]);
    expect(host.core.spare).toEqual({ name: 'PC D', ready: false });
  });

  it('keeps a warm spare through a suspicion and a takeover, and ends it only with the service', () => {
    const host = protectedPair({ warmSpare: true });
    expect(host.core.spare).toEqual({ name: 'PC C', ready: false });
    const ping = pingOf(silent(host, 'secondary', 600));
    expect(kinds(answer(host, ping, false))).not.toContain('terminate standby');
    expect(host.core.phase.kind).toBe('takeover');
    expect(host.core.spare).toEqual({ name: 'PC C', ready: false });
    expect(kinds(host.handle({ kind: 'kill', side: 'primary' }))).not.toContain('terminate standby');
    expect(kinds(host.handle({ kind: 'kill', side: 'secondary' }))).toContain('terminate standby');
    expect(host.core.serviceLost).toBeDefined();
    expect(host.core.spare).toBeUndefined();
  });

  it('keeps no spare while protected unless asked to, from the start or later', () => {
    const host = protectedPair();
    expect(host.core.spare).toBeUndefined();
    expect(kinds(host.handle({ kind: 'warm-spare', on: true }))).toEqual(['trace spare', 'start-standby']);
    host.handle({ kind: 'standby-ready' });
    // Asked no more: the spare that waits stays, for the next re-protection.
    expect(host.handle({ kind: 'warm-spare', on: false })).toEqual([]);
    expect(host.core.spare).toEqual({ name: 'PC C', ready: true });
  });

  it('sends a setting to the PCs that run, and a gate to its side only', () => {
    const host = protectedPair();
    host.handle({ kind: 'kill', side: 'secondary' });
    expect(host.handle({ kind: 'configure', change: { mode: 'naive' } })).toEqual([
      { kind: 'send', side: 'primary', pair: 1, call: { command: 'configure', args: [{ mode: 'naive' }] } },
    ]);
    expect(host.handle({ kind: 'configure', change: { gate: { step: true, breakBefore: [] } }, side: 'secondary' })).toEqual([]);
    expect(host.core.configFor('primary').mode).toBe('naive');
  });

  it('mirrors the client to the secondary only in compare mode, while it lives', () => {
    const host = protectedPair();
    expect(host.core.clientTargets()).toEqual({ serve: 'primary', mirror: undefined });
    host.handle({ kind: 'configure', change: { compare: { enabled: true, timeoutMs: 3000 } } });
    expect(host.core.clientTargets()).toEqual({ serve: 'primary', mirror: 'secondary' });
    host.handle({ kind: 'kill', side: 'secondary' });
    expect(host.core.clientTargets()).toEqual({ serve: 'primary', mirror: undefined });
    host.handle({ kind: 'kill', side: 'primary' });
    expect(host.core.clientTargets()).toEqual({ serve: undefined, mirror: undefined });
  });

  it('a primary whose worker ended by itself (its tab closed) is no false alarm, whether the host hears so before the suspicion or during it', () => {
    const before = protectedPair();
    expect(kinds(before.handle({ kind: 'worker-ended', side: 'primary', detail: 'the tab that ran PC A closed' }))).toEqual([
      'trace worker-ended',
      'terminate primary',
    ]);
    expect(before.core.fate.primary).toBe('ended');
    // Its peer still finds out by itself; the host needs no ping to confirm it.
    expect(kinds(silent(before, 'secondary', 110))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(before.core.falseFailovers).toBe(0);

    const during = protectedPair();
    expect(kinds(silent(during, 'secondary', 110))).toEqual(['trace suspect', 'ping']);
    expect(kinds(during.handle({ kind: 'worker-ended', side: 'primary', detail: 'the tab that ran PC A closed' }))).toEqual([
      'trace worker-ended',
      'terminate primary',
      'trace confirm',
      'send secondary peerLost',
    ]);
    expect(during.core.falseFailovers).toBe(0);
  });

  it('a standby whose worker ended by itself is given up, and another takes its place', () => {
    const host = protectedPair();
    host.handle({ kind: 'kill', side: 'secondary' });
    primaryExited(host);
    expect(host.core.spare?.ready).toBe(false);
    const first = host.core.spare?.name;
    expect(kinds(host.handle({ kind: 'worker-ended', side: 'standby', detail: 'the tab that ran PC C closed' }))).toEqual([
      'terminate standby',
      'trace reprotect',
      'trace spare',
      'start-standby',
    ]);
    expect(host.core.spare?.name).not.toBe(first);
  });

  it('names a command a PC refused in the trace', () => {
    const host = protectedPair();
    expect(host.handle({ kind: 'command-refused', side: 'primary', error: 'replication: configure for pair 1 refused: this PC plays in pair 2 now' })).toEqual([
      { kind: 'trace', action: 'command-refused', detail: 'PC A: replication: configure for pair 1 refused: this PC plays in pair 2 now' },
    ]);
  });
});
