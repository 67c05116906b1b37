// The host's policy, one situation at a time: data in, effects out.
import { describe, expect, it } from 'vitest';
import { HostCore, type HostEffect } from '../../engine/host/host-core.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';

function status(side: Side, change: Partial<ReplicationStatus> = {}): ReplicationStatus {
  return {
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
function protectedPair(): HostCore {
  const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500, linkFailureMs: 1000 });
  core.handle({ kind: 'start' });
  core.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
  core.handle({ kind: 'status', side: 'primary', status: status('primary') });
  return core;
}

const kinds = (effects: HostEffect[]) => effects.map((e) => (e.kind === 'trace' ? `trace ${e.action}` : e.kind === 'send' ? `send ${e.side} ${e.call.command}` : e.kind === 'terminate' ? `terminate ${e.side}` : e.kind));

/** `side` reports its peer silent for `ms`. */
const silent = (core: HostCore, side: Side, ms: number) => core.handle({ kind: 'peer-silent', side, detail: `no message for ${ms} ms`, silentMs: ms });
/** The secondary reports it took over. */
const takeover = (core: HostCore) => core.handle({ kind: 'status', side: 'secondary', status: status('secondary', { role: 'primary', phase: 'primary', failover: 'completed' }) });
const primaryExited = (core: HostCore) =>
  core.handle({ kind: 'status', side: 'primary', status: status('primary', { phase: 'exited', exitReason: 'error', exitDetail: 'no heartbeat' }) });

describe('HostCore', () => {
  it('names the PCs, and says protected once the secondary holds a checkpoint', () => {
    const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500, linkFailureMs: 1000 });
    expect(kinds(core.handle({ kind: 'start' }))).toEqual(['trace start']);
    expect(core.names).toEqual({ primary: 'PC A', secondary: 'PC B' });
    core.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
    expect(core.protected).toBe(false);
    expect(kinds(core.handle({ kind: 'status', side: 'primary', status: status('primary') }))).toEqual(['trace protected']);
    expect(core.protected).toBe(true);
  });

  it('only suspects a silent primary: it pings it, and one that answers keeps serving, still protected', () => {
    const core = protectedPair();
    const effects = silent(core, 'secondary', 110);
    expect(kinds(effects)).toEqual(['trace suspect', 'ping']);
    expect(effects).toContainEqual({ kind: 'ping', side: 'primary', timeoutMs: 500 });
    expect(core.arbitrating).toBe(true);
    // A second report while the ping is out asks nothing more.
    expect(silent(core, 'secondary', 130)).toEqual([]);
    expect(kinds(core.handle({ kind: 'ping-answered', side: 'primary', answered: true }))).toEqual(['trace dismiss']);
    expect(core.dismissedSuspicions).toBe(1);
    expect(core.falseFailovers).toBe(0);
    expect(core.protected).toBe(true);
    expect(core.arbitrating).toBe(false);
  });

  it('takes a link silent past linkFailureMs while both answer as failed: the primary goes on alone', () => {
    const core = protectedPair();
    silent(core, 'primary', 1200);
    // Nobody cut the link: counted as a false alarm.
    expect(kinds(core.handle({ kind: 'ping-answered', side: 'secondary', answered: true }))).toEqual(['trace arbitrate', 'trace false-failover', 'send primary peerLost']);
    expect(core.falseFailovers).toBe(1);
    // The primary leaves COLO; the host fences the secondary before it may release alone.
    // And a spare PC starts in standby at once, for the re-protection to come.
    expect(kinds(primaryExited(core))).toEqual(['trace fence', 'terminate secondary', 'send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(core.serving).toBe('primary');

    const cut = protectedPair();
    cut.handle({ kind: 'cut-link' });
    silent(cut, 'secondary', 1000);
    expect(kinds(cut.handle({ kind: 'ping-answered', side: 'primary', answered: true }))).toEqual(['trace arbitrate', 'send primary peerLost']);
    expect(cut.falseFailovers).toBe(0);
  });

  it('has the secondary take over from a primary that does not answer, and fences that primary once it has', () => {
    const core = protectedPair();
    silent(core, 'secondary', 110);
    // The host did not end or freeze it: a live PC too busy to answer, as far as it knows.
    expect(kinds(core.handle({ kind: 'ping-answered', side: 'primary', answered: false }))).toEqual(['trace false-failover', 'trace confirm', 'send secondary peerLost']);
    expect(core.falseFailovers).toBe(1);
    expect(kinds(takeover(core))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);
    expect(core.serving).toBe('secondary');
    expect(core.fate.primary).toBe('fenced');
    expect(core.hears('primary')).toBe(false);
    expect(core.handle({ kind: 'released', side: 'secondary', lines: ['c2 ok 2'] })).toEqual([{ kind: 'deliver', side: 'secondary', lines: ['c2 ok 2'] }]);
  });

  it('needs no ping for a PC it ended or froze itself, and counts no false alarm then', () => {
    const killed = protectedPair();
    killed.handle({ kind: 'kill', side: 'primary' });
    expect(killed.serviceLost).toBeUndefined();
    expect(kinds(silent(killed, 'secondary', 100))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(kinds(takeover(killed))).toEqual(['trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const frozen = protectedPair();
    frozen.handle({ kind: 'freeze-primary' });
    expect(kinds(silent(frozen, 'secondary', 100))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(kinds(takeover(frozen))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const secondaryGone = protectedPair();
    secondaryGone.handle({ kind: 'kill', side: 'secondary' });
    expect(kinds(silent(secondaryGone, 'primary', 100))).toEqual(['trace suspect', 'trace confirm', 'send primary peerLost']);
    expect([killed, frozen, secondaryGone].map((core) => core.falseFailovers)).toEqual([0, 0, 0]);
  });

  // Found by the simulation: the primary answered the ping, then froze before
  // the answer was read; the link was judged failed with a hung primary to go on alone.
  it('takes no answer from a suspect frozen since, and hears a reporter that suspects again', () => {
    const core = protectedPair();
    silent(core, 'secondary', 470);
    core.handle({ kind: 'freeze-primary' });
    expect(kinds(core.handle({ kind: 'ping-answered', side: 'primary', answered: true }))).toEqual(['trace confirm', 'send secondary peerLost']);

    const again = protectedPair();
    silent(again, 'secondary', 110);
    again.handle({ kind: 'ping-answered', side: 'primary', answered: true });
    expect(kinds(silent(again, 'secondary', 230))).toEqual(['trace suspect', 'ping']);
  });

  it('lets an answer decide nothing once its reporter is gone or the pair has changed', () => {
    const reporterGone = protectedPair();
    silent(reporterGone, 'secondary', 110);
    reporterGone.handle({ kind: 'kill', side: 'secondary' });
    expect(reporterGone.handle({ kind: 'ping-answered', side: 'primary', answered: false })).toEqual([]);
    expect(reporterGone.serving).toBe('primary');

    const changed = protectedPair();
    silent(changed, 'primary', 110);
    changed.handle({ kind: 'kill', side: 'primary' });
    silent(changed, 'secondary', 100);
    takeover(changed);
    expect(changed.arbitrating).toBe(false);
    expect(changed.handle({ kind: 'ping-answered', side: 'secondary', answered: false })).toEqual([]);
  });

  it('fences a secondary that took over without the host\'s word while the primary runs', () => {
    const core = protectedPair();
    expect(kinds(takeover(core))).toEqual(['trace arbitrate', 'terminate secondary']);
    expect(core.serving).toBe('primary');
  });

  it('fences a live secondary before a primary out of COLO releases alone', () => {
    const core = protectedPair();
    expect(kinds(primaryExited(core))).toEqual(['trace fence', 'terminate secondary', 'send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(core.fate.secondary).toBe('fenced');
  });

  it('obeys "Failover now" without a ping, even while a suspicion is being checked', () => {
    const core = protectedPair();
    expect(kinds(core.handle({ kind: 'failover' }))).toEqual(['trace failover-command', 'send secondary lostHeartbeat']);
    // The operator is the arbiter: the primary's exit is not settled by fencing the secondary.
    expect(primaryExited(core)).toEqual([]);
    expect(kinds(takeover(core))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'retry-client', 'trace spare', 'start-standby']);

    const checking = protectedPair();
    silent(checking, 'secondary', 110);
    expect(kinds(checking.handle({ kind: 'failover' }))).toEqual(['trace failover-command', 'send secondary lostHeartbeat']);
    takeover(checking);
    expect(checking.handle({ kind: 'ping-answered', side: 'primary', answered: true })).toEqual([]);
  });

  it('says why no PC can serve once neither can', () => {
    const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500, linkFailureMs: 1000 });
    core.handle({ kind: 'start' });
    core.handle({ kind: 'status', side: 'secondary', status: status('secondary', { committed: 0, phase: 'idle' }) });
    core.handle({ kind: 'kill', side: 'primary' });
    expect(core.serviceLost).toBe('PC A, which served the client, is killed and no PC can take over');
  });

  it('re-protects the survivor with a new PC that gets the settings the operator chose', () => {
    const core = protectedPair();
    core.handle({ kind: 'configure', change: { periodMs: 30, gate: { step: true, breakBefore: [] } }, side: 'secondary' });
    expect(core.canReprotect).toBe(false);
    expect(core.handle({ kind: 'reprotect' })).toEqual([]);
    core.handle({ kind: 'kill', side: 'primary' });
    // The failover starts a spare in standby; the click makes it the secondary once it is ready.
    expect(takeover(core)).toContainEqual({ kind: 'start-standby', name: 'PC C' });
    expect(core.spare).toEqual({ name: 'PC C', ready: false });
    expect(core.canReprotect).toBe(true);
    expect(kinds(core.handle({ kind: 'reprotect' }))).toEqual(['trace reprotect']);
    expect(core.canReprotect).toBe(false);
    expect(core.handle({ kind: 'standby-ready' })).toEqual([{ kind: 'pair', survivor: 'secondary' }]);
    expect(core.spare).toBeUndefined();
    expect(core.names).toEqual({ primary: 'PC B', secondary: 'PC C' });
    expect(core.serving).toBe('primary');
    expect(core.fate).toEqual({ primary: 'alive', secondary: 'alive' });
    expect(core.configFor('primary')).toMatchObject({ periodMs: 30, gate: DEFAULT_REPLICATION.gate });
    expect(core.configFor('secondary')).toMatchObject({ periodMs: 30, gate: { step: true } });
    core.handle({ kind: 'pair-started' });
    expect(core.reprotecting).toBe(false);
  });

  it('pairs at the click with a spare already waiting in standby', () => {
    const core = protectedPair();
    core.handle({ kind: 'kill', side: 'secondary' });
    expect(kinds(primaryExited(core))).toEqual(['send primary confirmAlone', 'trace spare', 'start-standby']);
    expect(core.handle({ kind: 'standby-ready' })).toEqual([]);
    expect(core.spare).toEqual({ name: 'PC C', ready: true });
    expect(kinds(core.handle({ kind: 'reprotect' }))).toEqual(['trace reprotect', 'pair']);
    expect(core.names).toEqual({ primary: 'PC A', secondary: 'PC C' });
  });

  it('ends a spare once nothing is left for it to protect', () => {
    const core = protectedPair();
    core.handle({ kind: 'kill', side: 'secondary' });
    primaryExited(core);
    core.handle({ kind: 'kill', side: 'primary' });
    expect(core.handle({ kind: 'standby-ready' })).toEqual([{ kind: 'terminate', side: 'standby' }]);
    expect(core.spare).toBeUndefined();
  });

  it('abandons a re-protection whose survivor died while the new PC started', () => {
    const core = protectedPair();
    primaryExited(core);
    core.handle({ kind: 'reprotect' });
    core.handle({ kind: 'kill', side: 'primary' });
    expect(kinds(core.handle({ kind: 'standby-ready' }))).toEqual(['terminate standby', 'trace reprotect']);
    expect(core.reprotecting).toBe(false);
  });

  it('re-protects by itself once the survivor is settled, when asked to', () => {
    const core = protectedPair();
    core.handle({ kind: 'auto-reprotect', on: true });
    core.handle({ kind: 'kill', side: 'primary' });
    expect(kinds(takeover(core))).toEqual(['trace primary-changed', 'retry-client', 'trace spare', 'start-standby', 'trace reprotect']);
  });

  it('sends a setting to the PCs that run, and a gate to its side only', () => {
    const core = protectedPair();
    core.handle({ kind: 'kill', side: 'secondary' });
    expect(core.handle({ kind: 'configure', change: { mode: 'naive' } })).toEqual([{ kind: 'send', side: 'primary', call: { command: 'configure', args: [{ mode: 'naive' }] } }]);
    expect(core.handle({ kind: 'configure', change: { gate: { step: true, breakBefore: [] } }, side: 'secondary' })).toEqual([]);
    expect(core.configFor('primary').mode).toBe('naive');
  });

  it('mirrors the client to the secondary only in compare mode, while it lives', () => {
    const core = protectedPair();
    expect(core.clientTargets()).toEqual({ serve: 'primary', mirror: undefined });
    core.handle({ kind: 'configure', change: { compare: { enabled: true, timeoutMs: 3000 } } });
    expect(core.clientTargets()).toEqual({ serve: 'primary', mirror: 'secondary' });
    core.handle({ kind: 'kill', side: 'secondary' });
    expect(core.clientTargets()).toEqual({ serve: 'primary', mirror: undefined });
    core.handle({ kind: 'kill', side: 'primary' });
    expect(core.clientTargets()).toEqual({ serve: undefined, mirror: undefined });
  });

  it('a primary whose worker ended by itself (its tab closed) is no false alarm, whether the host hears so before the suspicion or during it', () => {
    const before = protectedPair();
    expect(kinds(before.handle({ kind: 'worker-ended', side: 'primary', detail: 'the tab that ran PC A closed' }))).toEqual(['trace worker-ended', 'terminate primary']);
    expect(before.fate.primary).toBe('ended');
    // Its peer still finds out by itself; the host needs no ping to confirm it.
    expect(kinds(silent(before, 'secondary', 110))).toEqual(['trace suspect', 'trace confirm', 'send secondary peerLost']);
    expect(before.falseFailovers).toBe(0);

    const during = protectedPair();
    expect(kinds(silent(during, 'secondary', 110))).toEqual(['trace suspect', 'ping']);
    during.handle({ kind: 'worker-ended', side: 'primary', detail: 'the tab that ran PC A closed' });
    expect(kinds(during.handle({ kind: 'ping-answered', side: 'primary', answered: false }))).toEqual(['trace confirm', 'send secondary peerLost']);
    expect(during.falseFailovers).toBe(0);
  });

  it('a standby whose worker ended by itself is given up, and another takes its place', () => {
    const core = protectedPair();
    core.handle({ kind: 'kill', side: 'secondary' });
    primaryExited(core);
    expect(core.spare?.ready).toBe(false);
    const first = core.spare?.name;
    expect(kinds(core.handle({ kind: 'worker-ended', side: 'standby', detail: 'the tab that ran PC C closed' }))).toEqual(['terminate standby', 'trace reprotect', 'trace spare', 'start-standby']);
    expect(core.spare?.name).not.toBe(first);
  });
});
