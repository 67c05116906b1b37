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
  const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500 });
  core.handle({ kind: 'start' });
  core.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
  core.handle({ kind: 'status', side: 'primary', status: status('primary') });
  return core;
}

const kinds = (effects: HostEffect[]) => effects.map((e) => (e.kind === 'trace' ? `trace ${e.action}` : e.kind === 'send' ? `send ${e.side} ${e.call.command}` : e.kind === 'terminate' ? `terminate ${e.side}` : e.kind));

/** The secondary reports it took over (its heartbeats to the primary stopped). */
const takeover = (core: HostCore) => core.handle({ kind: 'status', side: 'secondary', status: status('secondary', { role: 'primary', phase: 'primary', failover: 'completed' }) });
const primaryExited = (core: HostCore) =>
  core.handle({ kind: 'status', side: 'primary', status: status('primary', { phase: 'exited', exitReason: 'error', exitDetail: 'no heartbeat' }) });

describe('HostCore', () => {
  it('names the PCs, and says protected once the secondary holds a checkpoint', () => {
    const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500 });
    expect(kinds(core.handle({ kind: 'start' }))).toEqual(['trace start']);
    expect(core.names).toEqual({ primary: 'PC A', secondary: 'PC B' });
    core.handle({ kind: 'status', side: 'secondary', status: status('secondary') });
    expect(core.protected).toBe(false);
    expect(kinds(core.handle({ kind: 'status', side: 'primary', status: status('primary') }))).toEqual(['trace protected']);
    expect(core.protected).toBe(true);
  });

  it('asks the primary before letting a secondary that took over serve; a primary that answers keeps serving', () => {
    const core = protectedPair();
    expect(takeover(core)).toEqual([{ kind: 'ping-primary', timeoutMs: 500 }]);
    expect(core.arbitrating).toBe(true);
    // What the secondary releases meanwhile waits for the verdict.
    expect(core.handle({ kind: 'released', side: 'secondary', lines: ['c1 ok 1'] })).toEqual([]);
    // Nobody cut the link: the secondary's takeover was a false alarm, and is counted.
    expect(kinds(core.handle({ kind: 'ping-answered', answered: true }))).toEqual(['trace arbitrate', 'trace false-failover', 'terminate secondary']);
    expect(core.falseFailovers).toBe(1);
    expect(core.serving).toBe('primary');
    expect(core.fate.secondary).toBe('fenced');
    // The fenced secondary's lines are never delivered; the primary, out of COLO, may now release alone.
    expect(kinds(primaryExited(core))).toEqual(['send primary confirmAlone']);
    expect(primaryExited(core)).toEqual([]);
  });

  it('counts no false failover where the operator cut the link, a primary was killed or hung', () => {
    const cut = protectedPair();
    cut.handle({ kind: 'cut-link' });
    takeover(cut);
    expect(kinds(cut.handle({ kind: 'ping-answered', answered: true }))).toEqual(['trace arbitrate', 'terminate secondary']);
    const hung = protectedPair();
    takeover(hung);
    hung.handle({ kind: 'ping-answered', answered: false });
    const killed = protectedPair();
    killed.handle({ kind: 'kill', side: 'primary' });
    takeover(killed);
    expect([cut, hung, killed].map((core) => core.falseFailovers)).toEqual([0, 0, 0]);
    expect(hung.serving).toBe('secondary');
  });

  it('fences a primary that does not answer, and serves from the secondary with what it released meanwhile', () => {
    const core = protectedPair();
    takeover(core);
    core.handle({ kind: 'released', side: 'secondary', lines: ['c1 ok 1'] });
    const effects = core.handle({ kind: 'ping-answered', answered: false });
    expect(kinds(effects)).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'deliver', 'retry-client']);
    expect(effects).toContainEqual({ kind: 'deliver', side: 'secondary', lines: ['c1 ok 1'] });
    expect(core.serving).toBe('secondary');
    expect(core.fate.primary).toBe('fenced');
    expect(core.hears('primary')).toBe(false);
    expect(core.handle({ kind: 'released', side: 'secondary', lines: ['c2 ok 2'] })).toEqual([{ kind: 'deliver', side: 'secondary', lines: ['c2 ok 2'] }]);
  });

  it('needs no ping when the primary is known dead, and keeps a secondary that died meanwhile from serving', () => {
    const killed = protectedPair();
    killed.handle({ kind: 'kill', side: 'primary' });
    expect(killed.serviceLost).toBeUndefined();
    expect(kinds(takeover(killed))).toEqual(['trace primary-changed', 'deliver', 'retry-client']);

    const bothGone = protectedPair();
    takeover(bothGone);
    bothGone.handle({ kind: 'kill', side: 'secondary' });
    expect(kinds(bothGone.handle({ kind: 'ping-answered', answered: false }))).toEqual(['trace arbitrate']);
    expect(bothGone.serving).toBe('primary');
  });

  it('fences a live secondary before a primary out of COLO releases alone', () => {
    const core = protectedPair();
    expect(kinds(primaryExited(core))).toEqual(['trace fence', 'terminate secondary', 'send primary confirmAlone']);
    expect(core.fate.secondary).toBe('fenced');
  });

  it('obeys "Failover now" without a ping, and not while it arbitrates', () => {
    const core = protectedPair();
    expect(kinds(core.handle({ kind: 'failover' }))).toEqual(['trace failover-command', 'send secondary lostHeartbeat']);
    // The operator is the arbiter: the primary's exit is not settled by fencing the secondary.
    expect(primaryExited(core)).toEqual([]);
    expect(kinds(takeover(core))).toEqual(['trace fence', 'terminate primary', 'trace primary-changed', 'deliver', 'retry-client']);

    const arbitrating = protectedPair();
    takeover(arbitrating);
    expect(arbitrating.handle({ kind: 'failover' })).toEqual([]);
  });

  it('says why no PC can serve once neither can', () => {
    const core = new HostCore({ config: DEFAULT_REPLICATION, pingTimeoutMs: 500 });
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
    takeover(core);
    expect(core.canReprotect).toBe(true);
    const start = core.handle({ kind: 'reprotect' });
    expect(kinds(start)).toEqual(['trace reprotect', 'start-standby']);
    expect(start).toContainEqual({ kind: 'start-standby', name: 'PC C' });
    expect(core.canReprotect).toBe(false);
    expect(core.handle({ kind: 'standby-ready' })).toEqual([{ kind: 'pair', survivor: 'secondary' }]);
    expect(core.names).toEqual({ primary: 'PC B', secondary: 'PC C' });
    expect(core.serving).toBe('primary');
    expect(core.fate).toEqual({ primary: 'alive', secondary: 'alive' });
    expect(core.configFor('primary')).toMatchObject({ periodMs: 30, gate: DEFAULT_REPLICATION.gate });
    expect(core.configFor('secondary')).toMatchObject({ periodMs: 30, gate: { step: true } });
    core.handle({ kind: 'pair-started' });
    expect(core.reprotecting).toBe(false);
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
    expect(kinds(takeover(core))).toEqual(['trace primary-changed', 'deliver', 'retry-client', 'trace reprotect', 'start-standby']);
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
});
