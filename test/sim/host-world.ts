// A small world around the host's phase machine, for checking it
// exhaustively: each PC of the pair, the spare and a hand-over's former as a
// few states (where it is in COLO, whether it holds a checkpoint, hangs or is
// gone), the link, the
// pings out and each PC's commands not yet carried out. Every event the host
// can meet is a move of this world: a worker's report, a ping's answer, a
// deadline, an operator's command, a fault. The world answers the host's
// effects as the workers would (a secondary told to take over does, if it
// holds a checkpoint; a primary told to leave COLO does). It is replayed from
// its events, so a state is just the path that led to it.
import { HostCore, type HostEffect, type HostInput } from '../../engine/host/host-core.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import type { CommandCall } from '../../engine/replication/commands.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';

/** In COLO; out of it, holding its output; out of it and released (confirmAlone); taken over (a secondary that serves). */
export type PcState = 'colo' | 'exited' | 'released' | 'took-over';

export interface PcModel {
  state: PcState;
  /** Holds (secondary) or has had received (primary) checkpoint 1. */
  committed: boolean;
  hung: boolean;
  dead: boolean;
  pair: number;
  /** Commands sent to it, not yet carried out, in order. */
  inbox: { pair: number; call: CommandCall }[];
}

export interface SpareModel {
  state: 'starting' | 'ready';
  hung: boolean;
}

export type WorldEvent =
  | 'checkpoint'
  | 'secondary-leaves'
  | 'primary-leaves'
  | 'secondary-hears-exit'
  | 'primary-hears-exit'
  | `late:${Side}`
  | `silent:${Side}`
  | `pong:${number}`
  | 'tick'
  | 'failover'
  | `kill:${Side}`
  | 'hand-over'
  | 'freeze'
  | 'cut'
  | 'reprotect'
  | 'auto'
  | `hang:${Side | 'spare' | 'former'}`
  | `ended:${Side | 'standby' | 'former'}`
  | 'spare-ready'
  | 'spare-fails'
  | `deliver:${Side}`;

/** The events of a healed world, most urgent first: no fault, no operator, every PC that runs does its part; time moves only when nothing else can. */
const HEALED: readonly string[] = [
  'deliver:primary',
  'deliver:secondary',
  'pong',
  'spare-ready',
  'checkpoint',
  'secondary-hears-exit',
  'primary-hears-exit',
  'silent:primary',
  'silent:secondary',
  'tick',
];

const OPTIONS = { config: DEFAULT_REPLICATION, pingTimeoutMs: 100, linkFailureMs: 400, takeoverMs: 600, leaveMs: 300, spareStartMs: 1000, handOverMs: 800 };
const other = (side: Side): Side => (side === 'primary' ? 'secondary' : 'primary');

export class HostWorld {
  readonly core: HostCore;
  now = 0;
  pcs: Record<Side, PcModel> = { primary: newPc(1), secondary: newPc(1) };
  spare: SpareModel | undefined;
  /** The old secondary of a hand-over, kept by the host until the new one holds a checkpoint; the host does not hear from it. */
  former: PcModel | undefined;
  linkCut = false;
  pings: { id: number; side: Side }[] = [];
  /** What went wrong, named: a broken invariant, seen as it happened. */
  readonly violations: string[] = [];

  /** `warmSpare`: a spare waits while the pair is protected, as in the page. */
  constructor(warmSpare = false) {
    this.core = new HostCore({ ...OPTIONS, warmSpare });
    this.input({ kind: 'start' });
  }

  /** The events that can happen now; in a healed world, only those of a world without faults. */
  events(healed = false): WorldEvent[] {
    const { primary: p, secondary: s } = this.pcs;
    const runs = (pc: PcModel) => !pc.dead && !pc.hung;
    const all: WorldEvent[] = [];
    if (runs(p) && runs(s) && p.state === 'colo' && s.state === 'colo' && !this.linkCut && !p.committed) all.push('checkpoint');
    if (runs(s) && s.state === 'colo') all.push('secondary-leaves');
    if (runs(p) && p.state === 'colo') all.push('primary-leaves');
    if (runs(s) && s.state === 'colo' && (p.state === 'exited' || p.state === 'released') && !this.linkCut && !p.dead) all.push('secondary-hears-exit');
    if (runs(p) && p.state === 'colo' && s.state === 'exited' && !this.linkCut && !s.dead) all.push('primary-hears-exit');
    for (const side of ['primary', 'secondary'] as const) {
      const me = this.pcs[side];
      const peer = this.pcs[other(side)];
      if (!runs(me) || me.state !== 'colo') continue;
      all.push(`late:${side}`);
      if (peer.dead || peer.hung || peer.state !== 'colo' || this.linkCut) all.push(`silent:${side}`);
      if (me.inbox.length > 0) all.push(`deliver:${side}`);
    }
    for (const side of ['primary', 'secondary'] as const) {
      const me = this.pcs[side];
      if (runs(me) && me.state !== 'colo' && me.inbox.length > 0) all.push(`deliver:${side}`);
    }
    for (const ping of this.pings) if (!this.pcs[ping.side].hung) all.push(`pong:${ping.id}`);
    if (Number.isFinite(this.core.nextDeadline)) all.push('tick');
    all.push('failover', 'kill:primary', 'kill:secondary', 'hand-over', 'freeze', 'cut', 'reprotect', 'auto');
    all.push('hang:primary', 'hang:secondary', 'ended:primary', 'ended:secondary');
    if (this.spare) all.push('hang:spare', 'ended:standby', 'spare-fails');
    if (this.former && !this.former.dead) all.push('hang:former', 'ended:former');
    if (this.spare?.state === 'starting' && !this.spare.hung) all.push('spare-ready');
    const unique = [...new Set(all)];
    if (!healed) return unique;
    const rank = (e: string) => HEALED.indexOf(e.startsWith('pong:') ? 'pong' : e);
    // A silence the host already checks is not reported again, or a healed world would only ever report it.
    const phase = this.core.phase;
    const checked = (e: string) => e.startsWith('silent:') && phase.kind !== 'replicating' && phase.kind !== 'lost';
    return unique.filter((e) => rank(e) !== -1 && !checked(e)).sort((a, b) => rank(a) - rank(b));
  }

  /** One event: the world moves, and the host hears what it would. */
  apply(event: WorldEvent): void {
    const { primary: p, secondary: s } = this.pcs;
    const [kind, arg] = event.split(':') as [string, string | undefined];
    switch (kind) {
      case 'checkpoint':
        p.committed = true;
        s.committed = true;
        this.report('secondary');
        this.report('primary');
        return;
      case 'secondary-leaves':
      case 'secondary-hears-exit':
        s.state = 'exited';
        this.report('secondary');
        return;
      case 'primary-leaves':
      case 'primary-hears-exit':
        p.state = 'exited';
        this.report('primary');
        return;
      case 'late':
        this.input({ kind: 'peer-silent', side: arg as Side, detail: 'late heartbeats', silentMs: 100 });
        return;
      case 'silent':
        this.input({ kind: 'peer-silent', side: arg as Side, detail: 'no heartbeat', silentMs: 2000 });
        return;
      case 'pong': {
        const ping = this.pings.find((x) => x.id === Number(arg));
        this.pings = this.pings.filter((x) => x !== ping);
        if (ping) this.input({ kind: 'ping-answered', ping: ping.id, answered: !this.pcs[ping.side].dead });
        return;
      }
      case 'tick':
        this.now = this.core.nextDeadline ?? this.now;
        this.input({ kind: 'tick' });
        return;
      case 'failover':
        return this.input({ kind: 'failover' });
      case 'kill':
        return this.input({ kind: 'kill', side: arg as Side });
      case 'hand-over':
        return this.input({ kind: 'hand-over' });
      case 'freeze':
        return this.input({ kind: 'freeze-primary' });
      case 'cut':
        this.linkCut = true;
        return this.input({ kind: 'cut-link' });
      case 'reprotect':
        return this.input({ kind: 'reprotect' });
      case 'auto':
        return this.input({ kind: 'auto-reprotect', on: true });
      case 'hang':
        if (arg === 'spare') {
          if (this.spare) this.spare.hung = true;
        } else if (arg === 'former') {
          if (this.former) this.former.hung = true;
        } else this.pcs[arg as Side].hung = true;
        return;
      case 'ended':
        if (arg === 'standby') this.spare = undefined;
        else if (arg === 'former') {
          if (this.former) this.former.dead = true;
        } else this.pcs[arg as Side].dead = true;
        return this.input({ kind: 'worker-ended', side: arg as Side | 'standby' | 'former', detail: 'its tab closed' });
      case 'spare-ready':
        if (this.spare) this.spare.state = 'ready';
        return this.input({ kind: 'standby-ready' });
      case 'spare-fails':
        this.spare = undefined;
        return this.input({ kind: 'standby-failed', error: 'it failed' });
      case 'deliver':
        return this.deliver(arg as Side);
    }
  }

  /** The world runs as healed from here until the pair is protected, or no PC could serve at all; how it ended. */
  heal(limit = 60): 'protected' | 'lost' | 'wedged' {
    this.apply('auto');
    for (let step = 0; step < limit; step++) {
      if (this.core.protected && this.pcs.primary.state === 'colo' && this.pcs.secondary.committed) return 'protected';
      if (this.lostInTruth()) return 'lost';
      // A spare that hangs is replaced at its deadline by one that does not.
      const pick = this.events(true)[0];
      if (!pick) return 'wedged';
      this.apply(pick);
    }
    return 'wedged';
  }

  /** No PC that runs holds the service's state: the one that serves is gone or hangs, and no secondary holds a checkpoint it could take over from. */
  lostInTruth(): boolean {
    const { primary: p, secondary: s } = this.pcs;
    const runs = (pc: PcModel) => !pc.dead && !pc.hung;
    const serving = this.core.serving;
    if (runs(this.pcs[serving]) && this.pcs[serving].state !== 'exited') return false;
    if (serving === 'primary' && runs(p)) return false;
    const holds = (pc: PcModel | undefined) => pc !== undefined && runs(pc) && pc.state === 'colo' && pc.committed;
    return !(serving === 'primary' && (holds(s) || holds(this.former)));
  }

  /** A key for the state: what decides what happens next (times relative to now, pings by order). */
  key(): string {
    const phase = this.core.phase;
    const ids = new Map(this.pings.map((ping, i) => [ping.id, i]));
    const rel = (t: number) => t - this.now;
    const phaseKey =
      phase.kind === 'arbitrating'
        ? `arbitrating ${phase.suspicions.map((x) => `${x.suspect} ${x.silentMs} ${ids.get(x.ping) ?? '-'} ${rel(x.deadline)}`).join(',')}`
        : phase.kind === 'takeover'
          ? `takeover ${rel(phase.deadline)}`
          : phase.kind === 'leaving'
            ? `leaving ${rel(phase.deadline)} ${phase.ping === undefined ? '' : (ids.get(phase.ping) ?? '-')}`
            : phase.kind === 'alone' || phase.kind === 'reprotecting'
              ? `${phase.kind} ${phase.survivor}`
              : phase.kind;
    const pcKey = (pc: PcModel) =>
      `${pc.state} ${pc.committed} ${pc.hung} ${pc.dead} ${pc.pair - this.core.pairNumber} ${pc.inbox.map((c) => `${c.pair - this.core.pairNumber}${c.call.command}`).join('.')}`;
    const spare = this.core.spare;
    return [
      phaseKey,
      JSON.stringify(this.core.fate),
      JSON.stringify(this.core.running),
      pcKey(this.pcs.primary),
      pcKey(this.pcs.secondary),
      this.former ? pcKey(this.former) : '-',
      this.spare ? `${this.spare.state} ${this.spare.hung}` : '-',
      spare ? `${spare.ready}` : '-',
      this.linkCut,
      this.pings.map((x) => x.side).join(','),
      (this.core as unknown as { autoReprotect: boolean }).autoReprotect,
      JSON.stringify(this.core.status),
    ].join('|');
  }

  private report(side: Side): void {
    const pc = this.pcs[side];
    const status: ReplicationStatus = {
      pair: pc.pair,
      settings: { periodMs: 1000, mode: 'strict', outputCommit: 'hold', compare: DEFAULT_REPLICATION.compare, gate: DEFAULT_REPLICATION.gate },
      side,
      role: pc.state === 'took-over' ? 'primary' : side,
      phase: pc.state === 'took-over' ? 'primary' : pc.state === 'colo' ? 'idle' : 'exited',
      checkpoint: pc.committed ? 1 : 0,
      committed: pc.committed ? 1 : 0,
      failover: pc.state === 'took-over' ? 'completed' : 'none',
      exitReason: pc.state === 'colo' ? 'none' : pc.state === 'took-over' ? 'request' : 'error',
      exitDetail: pc.state === 'colo' ? '' : 'it left COLO',
      heldOutputLines: 0,
      runsBetweenCheckpoints: false,
      heartbeatGaps: { peerSilenceMs: 0, ownBeatGapMs: 0 },
    };
    if (!pc.dead && !pc.hung) this.input({ kind: 'status', side, status });
  }

  /** The oldest command `side`'s PC has not carried out yet, carried out as its role would. */
  private deliver(side: Side): void {
    const pc = this.pcs[side];
    const next = pc.inbox.shift();
    if (!next) return;
    if (next.pair < pc.pair) return this.input({ kind: 'command-refused', side, error: `pair ${next.pair} refused: this PC plays in pair ${pc.pair}` });
    const { command } = next.call;
    if (command === 'cutLink') this.linkCut = true;
    if (command === 'confirmAlone' && pc.state === 'exited') pc.state = 'released';
    if ((command === 'peerLost' || command === 'lostHeartbeat') && pc.state === 'colo') {
      // A secondary takes over if it holds a checkpoint, and leaves COLO if it does not; a primary leaves COLO.
      pc.state = side === 'secondary' && pc.committed ? 'took-over' : 'exited';
      this.report(side);
    }
  }

  private input(input: HostInput): void {
    for (const effect of this.core.handle(input, this.now)) this.perform(effect);
    this.check();
  }

  private perform(effect: HostEffect): void {
    switch (effect.kind) {
      case 'send': {
        const pc = this.pcs[effect.side];
        if (!pc.dead) pc.inbox.push({ pair: effect.pair, call: effect.call });
        return;
      }
      case 'freeze':
        this.pcs[effect.side].hung = true;
        return;
      case 'terminate':
        if (effect.side === 'standby') this.spare = undefined;
        else if (effect.side === 'former') this.former = undefined;
        else {
          this.pcs[effect.side].dead = true;
          this.pcs[effect.side].inbox = [];
        }
        return;
      case 'ping':
        this.pings.push({ id: effect.ping, side: effect.side });
        return;
      case 'start-standby':
        this.spare = { state: 'starting', hung: false };
        return;
      case 'pair': {
        // The survivor leads the new pair; the spare is its secondary. A hand-over keeps the old secondary as the former.
        const survivor = this.pcs[effect.survivor];
        if (effect.handOver) this.former = this.pcs.secondary;
        this.pcs = {
          primary: { ...newPc(effect.pair), hung: survivor.hung, dead: survivor.dead, inbox: survivor.inbox },
          secondary: { ...newPc(effect.pair), hung: this.spare?.hung ?? true },
        };
        this.spare = undefined;
        this.linkCut = false;
        this.pings = [];
        return;
      }
      case 'fall-back': {
        // Only while the new secondary holds nothing may the former take its place: the primary may have released what the new checkpoint covers.
        if (this.pcs.secondary.committed) this.violations.push('the host fell back to the former though the new secondary held a checkpoint');
        const former = this.former;
        if (!former) {
          this.violations.push('the host fell back to a former it did not keep');
          return;
        }
        this.pcs.secondary = former;
        this.former = undefined;
        return;
      }
      case 'trace':
      case 'deliver':
      case 'retry-client':
        return;
    }
  }

  // Safety: a primary released alone only once no secondary can take over;
  // never two PCs serving; every waiting phase has a deadline.
  private check(): void {
    const { primary: p, secondary: s } = this.pcs;
    if (p.state === 'released' && !s.dead && (s.state === 'colo' || s.state === 'took-over')) {
      this.violations.push(`the primary released alone while the secondary ${s.state === 'colo' ? 'could still take over' : 'serves'}`);
    }
    const f = this.former;
    if (p.state === 'released' && f && !f.dead && f.state === 'colo') this.violations.push('the primary released alone while the former could still take over');
    if (
      p.state !== 'exited' &&
      p.state !== 'released' &&
      !p.dead &&
      s.state === 'took-over' &&
      !s.dead &&
      this.core.hears('primary') &&
      this.core.hears('secondary')
    ) {
      this.violations.push('two primaries, both heard');
    }
    const kind = this.core.phase.kind;
    if ((kind === 'arbitrating' || kind === 'takeover' || kind === 'leaving' || kind === 'reprotecting') && !Number.isFinite(this.core.nextDeadline)) {
      this.violations.push(`the host waits in ${kind} with no deadline`);
    }
  }
}

function newPc(pair: number): PcModel {
  return { state: 'colo', committed: false, hung: false, dead: false, pair, inbox: [] };
}
