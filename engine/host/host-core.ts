// The host's policy for a replicated pair, as one state machine: which PC
// serves the client, when a PC is fenced, when a primary out of COLO may
// release what it holds, who goes on when the link fails, and when a new pair
// starts. The host is the pair's witness: a side's heartbeats only make it
// suspect its peer; the host pings the suspect and decides. It is pure:
// inputs arrive as data with the time, effects leave as data, and every phase
// that waits for something carries the deadline after which it stops waiting
// (`nextDeadline`). engine/host/cluster.ts wires it to workers and a timer.
//
// The phases (the pair's) and what moves between them:
//
//   replicating  ─ a side reports its peer silent ─▶ arbitrating: the host pings the suspect
//   arbitrating  ─ the suspect answers, its silence short ─▶ replicating (late heartbeats: dismissed)
//                ─ it answers, but the link was silent ≥ linkFailureMs ─▶ leaving (the link failed)
//                ─ no answer by its deadline (pingTimeoutMs) ─▶ takeover (primary suspected) | leaving (secondary)
//   replicating, arbitrating ─ "Failover now" ─▶ takeover
//   takeover     ─ the secondary took over ─▶ alone, the secondary serving (the old primary fenced)
//                ─ it left COLO, is gone, or its deadline (takeoverMs) passed ─▶ leaving, or lost without a live primary
//   leaving      ─ the primary left COLO ─▶ alone, the primary serving (the secondary fenced first)
//                ─ its deadline (leaveMs) passed ─▶ a ping: answered, wait again; else the primary is fenced ─▶ takeover | lost
//   replicating  ─ the primary left COLO by itself ─▶ alone (the secondary fenced first)
//                  (a secondary that left COLO tells its primary, or falls silent to it: a suspicion of it is confirmed at once)
//   alone        ─ "Start a new secondary", or automatically ─▶ reprotecting
//   reprotecting ─ the spare is ready ─▶ replicating (a new pair)
//                ─ the spare failed, or its deadline (spareStartMs) passed ─▶ another spare starts
//   replicating  ─ "Move the secondary", the spare ready ─▶ replicating (a new pair, the old secondary kept: a hand-over)
//   any          ─ the PC that serves is gone and none can take over ─▶ lost
//
// A hand-over makes before it breaks: the old secondary (the former) keeps
// its last checkpoint, and the primary holds every reply, until the new
// secondary holds checkpoint 1; then the former retires. Should the primary
// fail first, the former takes over in the new secondary's place. Anything
// else that ends the new pair's protection (the new secondary fails, the
// link, its deadline handOverMs) retires the former before the primary may
// release alone.
//
// replicating waits for nothing of the host's: the pair runs COLO by itself,
// and its heartbeats report a silent peer. alone and lost wait for nothing.
// The spare (a PC starting in standby) is a resource beside the phase, with a
// start deadline of its own; commands to a PC name the pair they are for
// (engine/replication/replication-role.ts queues those for a pair not yet
// started there and refuses those for an older one).
import type { Side } from '../protocol/messages.ts';
import type { HostAction } from '../protocol/trace.ts';
import type { CommandCall, SettingsChange } from '../replication/commands.ts';
import type { GateConfig, ReplicationConfig } from '../replication/config.ts';
import type { ReplicationStatus } from '../replication/events.ts';

/** Host-side facts the workers cannot report: who was killed, frozen or fenced. */
/** `ended`: its worker ended without the host ending it (the tab that ran it closed). */
export type Fate = 'alive' | 'killed' | 'frozen' | 'fenced' | 'ended';

/** The PC being started to become the secondary of a new pair. */
export type Standby = 'standby';

/** The old secondary of a hand-over, kept until the new one holds a checkpoint. */
export type Former = 'former';

/** A side suspected by its peer: the host's ping is out. */
export interface Suspicion {
  suspect: Side;
  /** The ping it waits for: only its answer decides. */
  ping: number;
  detail: string;
  silentMs: number;
  deadline: number;
  /** The deadline was moved once already, the host's timer having come late (see STARVED_GRACE_MS). */
  graced?: true;
}

export type Phase =
  | { kind: 'replicating' }
  | { kind: 'arbitrating'; suspicions: readonly Suspicion[] }
  /** The secondary was told to take over; the primary, if it lives, holds its output meanwhile. */
  | { kind: 'takeover'; deadline: number }
  /** The primary was told to leave COLO; once it has, the secondary is fenced and it releases alone. `ping`: the host asked whether it still answers. */
  | { kind: 'leaving'; deadline: number; ping?: number; graced?: true }
  | { kind: 'alone'; survivor: Side }
  | { kind: 'reprotecting'; survivor: Side }
  | { kind: 'lost'; serving: Side; reason: string };

export type PhaseKind = Phase['kind'];

export type HostInput =
  /** Both PCs of the first pair are being started. */
  | { kind: 'start' }
  | { kind: 'status'; side: Side; status: ReplicationStatus }
  /** Output a side's worker released, in order. */
  | { kind: 'released'; side: Side; lines: string[] }
  /** Output the serving PC released in its previous role while its new pair was starting. */
  | { kind: 'released-before'; lines: string[] }
  /** `side` heard nothing from its peer for `silentMs` beyond any busy time the peer announced (missed heartbeats, or its end of the channel closed). */
  | { kind: 'peer-silent'; side: Side; detail: string; silentMs: number }
  /** The answer to ping `ping`; `answered: false`: the call failed (the worker is gone). */
  | { kind: 'ping-answered'; ping: number; answered: boolean }
  | { kind: 'kill'; side: Side }
  /**
   * The operator moves the secondary (to another tab): the spare, ready,
   * becomes the primary's secondary in a new pair, and the old one keeps its
   * checkpoint until the new one holds one (make before break).
   */
  | { kind: 'hand-over' }
  /**
   * `side`'s worker ended without the host ending it (the tab that ran it
   * closed). The pair still learns it from heartbeats; the host only knows
   * the PC will not answer, so its silence is no false alarm.
   */
  | { kind: 'worker-ended'; side: Side | Standby | Former; detail: string }
  | { kind: 'freeze-primary' }
  | { kind: 'cut-link' }
  /** QEMU's x-colo-lost-heartbeat, given to the secondary. */
  | { kind: 'failover' }
  | { kind: 'checkpoint-now' }
  /** `side`: whose gate a gate change is (both when absent); the other settings are the pair's. */
  | { kind: 'configure'; change: SettingsChange; side?: Side }
  | { kind: 'auto-reprotect'; on: boolean }
  /** Keep a spare waiting while the pair is protected (see HostCoreOptions.warmSpare). */
  | { kind: 'warm-spare'; on: boolean }
  /** The operator asks for a new secondary (refused unless `canReprotect`). */
  | { kind: 'reprotect' }
  | { kind: 'standby-ready' }
  | { kind: 'standby-failed'; error: string }
  /** A PC refused a command: it runs a newer pair than the command named. */
  | { kind: 'command-refused'; side: Side; error: string }
  /** Time passed: a deadline may have come (see nextDeadline). */
  | { kind: 'tick' };

export type HostEffect =
  | { kind: 'trace'; action: HostAction; detail: string }
  /** End that PC's worker at once, as a crash would. */
  | { kind: 'terminate'; side: Side | Standby | Former }
  /** `call` for the role of pair `pair` on `side`'s PC. */
  | { kind: 'send'; side: Side; pair: number; call: CommandCall }
  /** The operator's "Freeze primary": the PC's worker hangs, as a hung one would. */
  | { kind: 'freeze'; side: Side }
  /** Ask `side` whether it still answers; reply with `ping-answered` and this id (an unanswered ping needs no reply: its deadline decides). */
  | { kind: 'ping'; side: Side; ping: number }
  /** Lines the client may now see, from the PC that serves it. */
  | { kind: 'deliver'; side: Side; lines: string[] }
  /** Send the client's unanswered request again, to whichever PC now serves. */
  | { kind: 'retry-client' }
  /** Start a new worker in standby; reply with `standby-ready` or `standby-failed`. */
  | { kind: 'start-standby'; name: string }
  /**
   * The PC on side `survivor` becomes the primary and the standby its
   * secondary, as pair `pair`: start replicating. `handOver`: the survivor is
   * a primary still replicating, whose secondary becomes the former.
   */
  | { kind: 'pair'; survivor: Side; pair: number; handOver?: true }
  /** The former takes the secondary's role back (its pair's), the new secondary ended: it takes over in its place. */
  | { kind: 'fall-back' };

/** How long the host waits for each thing it waits for. */
export interface HostTiming {
  /** How long the host waits for a suspect's answer before it counts as hung. */
  pingTimeoutMs: number;
  /** A link silent this long while both sides answer the host has failed: the primary goes on alone. */
  linkFailureMs: number;
  /** How long an ordered takeover may take (a load under way comes first) before the host gives up on the secondary. */
  takeoverMs: number;
  /** How long a primary told to leave COLO may take before the host asks whether it still answers. */
  leaveMs: number;
  /** How long a spare may take to start (a worker, v86, the booted snapshot) before another replaces it. */
  spareStartMs: number;
  /** How long the new secondary of a hand-over may take to hold checkpoint 1 before the hand-over is given up. */
  handOverMs: number;
}

export const HOST_TIMING: HostTiming = {
  pingTimeoutMs: 500,
  // Well above the longest silence measured between two live workers (under
  // 150 ms, outside a checkpoint's busy allowance), so late heartbeats are
  // dismissed and only a link that stays silent ends protection.
  linkFailureMs: 1000,
  // A takeover waits for a load under way (v86's whole restore_state:
  // 120–360 ms measured): one that has not come in 5 s will not.
  takeoverMs: 5000,
  // A primary told to leave COLO leaves at once.
  leaveMs: 2000,
  // A spare starts in about 2.5 s here (a worker, v86's WebAssembly, the booted snapshot).
  spareStartMs: 60_000,
  // A new pair holds checkpoint 1 within a second here: one that has not in 10 s will not.
  handOverMs: 10_000,
};

export interface HostCoreOptions extends HostTiming {
  config: ReplicationConfig;
  /**
   * Keep a spare waiting in standby while the pair is protected, so that
   * re-protection after a fault waits for no PC to start (one costs a worker,
   * v86 and the snapshot: seconds). Off where a spare needs a tab a person opens.
   */
  warmSpare?: boolean;
}

/** One PC of the pair, by role: its name, what the host knows of its fate, and what it last reported. */
interface Pc {
  name: string;
  fate: Fate;
  /** Its worker runs: the host has not ended it (and has not heard that it ended). */
  running: boolean;
  status?: ReplicationStatus;
  /** The pair its role belongs to: commands to it name this one. */
  pair: number;
}

/** The PC starting in standby for the next pair, until its deadline. */
interface Spare {
  name: string;
  state: 'starting' | 'ready';
  deadline: number;
}

/**
 * A ping's deadline the host's timer met this late means the host itself was
 * starved (its thread busy, or the machine): an answer that came meanwhile may
 * wait behind the timer (Node runs due timers before the messages that came
 * during a stall), so it has not heard silence. It waits STARVED_GRACE_MS more,
 * once, before it judges.
 */
export const LATE_TICK_MS = 50;
export const STARVED_GRACE_MS = 50;

const other = (side: Side): Side => (side === 'primary' ? 'secondary' : 'primary');
const SIDES: readonly Side[] = ['primary', 'secondary'];

export class HostCore {
  private phaseNow: Phase = { kind: 'replicating' };
  private pcs: Record<Side, Pc> = { primary: newPc('', 0), secondary: newPc('', 0) };
  private spareNow: Spare | undefined;
  /** The old secondary of a hand-over under way, and when the new secondary must hold a checkpoint by. */
  private formerNow: { pc: Pc; deadline: number } | undefined;
  /** The newest pair: the primary's, and the secondary's but for a former taken back. */
  private pair = 0;
  /** The pair whose link the operator cut: a link failure in it is no false alarm. */
  private cutPair: number | undefined;
  private pings = 0;
  private autoReprotect = false;
  private warmSpareNow: boolean;
  private machinesMade = 0;
  private now = 0;
  /**
   * Protection ended although no PC was killed or frozen and nobody cut the
   * link: the link counted as failed while both answered, or a live PC did not
   * answer the host's ping in time.
   */
  falseFailovers = 0;
  /** Suspicions the host dismissed because the suspect answered: late heartbeats that cost nothing. */
  dismissedSuspicions = 0;
  /** The configuration as the operator last set it: every pair, and every later one, gets it. */
  private readonly desired: ReplicationConfig;
  /** The gate of each role's side (the configuration's own gate is the primary's). */
  private readonly gates: Record<Side, GateConfig>;

  constructor(private readonly options: HostCoreOptions) {
    const { config } = options;
    this.desired = { ...config, compare: { ...config.compare }, heartbeat: { ...config.heartbeat } };
    this.gates = { primary: config.gate, secondary: config.gate };
    this.warmSpareNow = options.warmSpare === true;
  }

  /** Whether a spare waits while the pair is protected. */
  get warmSpare(): boolean {
    return this.warmSpareNow;
  }

  /** How long a spare may take to start before another replaces it. */
  get spareStartMs(): number {
    return this.options.spareStartMs;
  }

  /** How long the new secondary of a hand-over may take to hold a checkpoint. */
  get handOverMs(): number {
    return this.options.handOverMs;
  }

  /** The pair's phase: what the host waits for, and until when. */
  get phase(): Phase {
    return this.phaseNow;
  }

  /** The earliest time at which something is due: a phase's deadline, a suspicion's, the spare's. */
  get nextDeadline(): number | undefined {
    const phase = this.phaseNow;
    const times = [
      ...(phase.kind === 'takeover' || phase.kind === 'leaving' ? [phase.deadline] : []),
      ...(phase.kind === 'arbitrating' ? phase.suspicions.map((s) => s.deadline) : []),
      ...(this.spareNow?.state === 'starting' ? [this.spareNow.deadline] : []),
      ...(this.formerNow ? [this.formerNow.deadline] : []),
    ];
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** Which PC serves the client: the original primary, or the secondary after takeover. */
  get serving(): Side {
    const phase = this.phaseNow;
    return phase.kind === 'alone' || phase.kind === 'reprotecting' ? phase.survivor : phase.kind === 'lost' ? phase.serving : 'primary';
  }

  get fate(): Readonly<Record<Side, Fate>> {
    return { primary: this.pcs.primary.fate, secondary: this.pcs.secondary.fate };
  }

  /** Whether the PC in each role has a worker (the host is the only one that ends workers). */
  get running(): Readonly<Record<Side, boolean>> {
    return { primary: this.pcs.primary.running, secondary: this.pcs.secondary.running };
  }

  /** Latest status reported by each side's worker in this pair. */
  get status(): Readonly<Partial<Record<Side, ReplicationStatus>>> {
    const { primary, secondary } = this.pcs;
    return { ...(primary.status ? { primary: primary.status } : {}), ...(secondary.status ? { secondary: secondary.status } : {}) };
  }

  /** The name of the PC in each role, for people: PC A, PC B, PC C… */
  get names(): Readonly<Record<Side, string>> {
    return { primary: this.pcs.primary.name, secondary: this.pcs.secondary.name };
  }

  /** The newest pair (1 for the first). */
  get pairNumber(): number {
    return this.pair;
  }

  /** The pair `side`'s role belongs to: the newest, or for a former taken back, its own. */
  pairOf(side: Side): number {
    return this.pcs[side].pair;
  }

  /** A hand-over is under way: its old secondary, holding its checkpoint, is still kept. */
  get handingOver(): boolean {
    return this.formerNow !== undefined;
  }

  /** The old secondary of a hand-over under way, and the checkpoint it holds (as it last reported). */
  get former(): { name: string; checkpoint: number } | undefined {
    const pc = this.formerNow?.pc;
    return pc && { name: pc.name, checkpoint: pc.status?.committed ?? 0 };
  }

  /** A suspicion is being checked: the host's ping is out, and which PC survives is not yet known. */
  get arbitrating(): boolean {
    return this.phaseNow.kind === 'arbitrating';
  }

  /** A new secondary is being started for the survivor. */
  get reprotecting(): boolean {
    return this.phaseNow.kind === 'reprotecting';
  }

  /** What the operator last chose, with that side's gate: a copy, so a pair cannot change it. */
  configFor(side: Side): ReplicationConfig {
    return { ...this.desired, compare: { ...this.desired.compare }, gate: this.gates[side] };
  }

  /** The secondary (or, in a hand-over, the former) holds a whole checkpoint: failover now loses nothing a client saw. */
  get protected(): boolean {
    const p = this.pcs.primary.status;
    const pairHolds = this.live('secondary') && p !== undefined && p.exitReason === 'none' && p.committed >= 1;
    return (this.phaseNow.kind === 'replicating' || this.phaseNow.kind === 'arbitrating') && this.live('primary') && (pairHolds || this.formerHolds());
  }

  /** After a failover, or with the secondary gone: a fresh secondary may start from the survivor's state. */
  get canReprotect(): boolean {
    return this.phaseNow.kind === 'alone';
  }

  /** The PC waiting in standby for the next re-protection, if one was started. */
  get spare(): { name: string; ready: boolean } | undefined {
    return this.spareNow && { name: this.spareNow.name, ready: this.spareNow.state === 'ready' };
  }

  /** Why no PC can serve the client any more, or undefined while one can (or may yet, by a failover). */
  get serviceLost(): string | undefined {
    return this.phaseNow.kind === 'lost' ? this.phaseNow.reason : undefined;
  }

  /** A side's events are heard until the host ended its worker: a terminated worker's last messages may still be in flight. */
  hears(side: Side): boolean {
    const { fate } = this.pcs[side];
    return fate !== 'killed' && fate !== 'fenced';
  }

  /** Where the client's bytes go: the serving PC, and in compare mode the secondary too (it runs every request). */
  clientTargets(): { serve: Side | undefined; mirror: Side | undefined } {
    const serve = this.pcs[this.serving].running ? this.serving : undefined;
    const mirror = this.serving === 'primary' && this.desired.compare.enabled && this.live('secondary') ? 'secondary' : undefined;
    return { serve, mirror };
  }

  handle(input: HostInput, now: number): HostEffect[] {
    this.now = now;
    const wasProtected = this.protected;
    const effects = this.apply(input);
    if (!wasProtected && this.protected) effects.unshift(trace('protected', `secondary holds checkpoint ${this.pcs.primary.status?.committed ?? 0}`));
    effects.push(...this.checkLost(), ...this.keepSpare(), ...this.maybeAutoReprotect());
    return effects;
  }

  private apply(input: HostInput): HostEffect[] {
    switch (input.kind) {
      case 'start':
        this.pair = 1;
        this.pcs = { primary: { ...newPc(this.nextName(), 1), running: true }, secondary: { ...newPc(this.nextName(), 1), running: true } };
        this.phaseNow = { kind: 'replicating' };
        return [trace('start', `${this.pcs.primary.name} from the booted snapshot, ${this.pcs.secondary.name} in standby`)];
      case 'status':
        this.pcs[input.side].status = input.status;
        return this.onStatus(input.side, input.status);
      case 'released':
        // Only the serving PC speaks for the service; a primary that releases in a hand-over releases what only the new secondary's checkpoint covers.
        if (input.side !== this.serving) return [];
        return [
          ...(input.side === 'primary' ? this.retireFormer(`${this.pcs.primary.name} released a reply only the new pair's checkpoint covers`) : []),
          { kind: 'deliver', side: input.side, lines: input.lines },
        ];
      case 'released-before':
        // A survivor's output released by its previous role is still real output of the PC that serves.
        return [{ kind: 'deliver', side: this.serving, lines: input.lines }];
      case 'peer-silent':
        return this.suspect(input.side, input.detail, input.silentMs);
      case 'ping-answered':
        return this.answered(input.ping, input.answered);
      case 'kill':
        return this.kill(input.side);
      case 'hand-over':
        return this.handOver();
      case 'worker-ended':
        return this.workerEnded(input.side, input.detail);
      case 'freeze-primary':
        if (!this.live('primary')) return [];
        this.pcs.primary.fate = 'frozen';
        return [trace('freeze-primary', 'primary VM stopped; it sends and reads nothing'), { kind: 'freeze', side: 'primary' }, ...this.gone('primary')];
      case 'cut-link':
        this.cutPair = this.pair;
        return [trace('cut-link', 'the replication channel carries nothing more'), ...this.toRunning(SIDES, { command: 'cutLink', args: [] })];
      case 'failover':
        return this.failover();
      case 'checkpoint-now':
        return this.toRunning(['primary'], { command: 'checkpointNow', args: [] });
      case 'configure':
        return this.configure(input.change, input.side);
      case 'auto-reprotect':
        this.autoReprotect = input.on;
        return [];
      case 'warm-spare':
        this.warmSpareNow = input.on;
        return [];
      case 'reprotect':
        return this.canReprotect ? this.reprotect() : [];
      case 'standby-ready':
        return this.standbyReady();
      case 'standby-failed':
        return this.giveUpSpare(`failed: ${input.error}`);
      case 'command-refused':
        return [trace('command-refused', `${this.pcs[input.side].name}: ${input.error}`)];
      case 'tick':
        return this.deadlines();
    }
  }

  // --- what the workers report

  private onStatus(side: Side, status: ReplicationStatus): HostEffect[] {
    const phase = this.phaseNow;
    if (side === 'primary' && this.formerNow && status.exitReason === 'none' && status.committed >= 1) {
      return this.retireFormer(`${this.pcs.secondary.name} holds checkpoint ${status.committed}`);
    }
    if (side === 'secondary' && status.role === 'primary') return this.takenOver(status.committed);
    // A secondary that left COLO tells its primary itself (or falls silent to it); only one ordered to take over is waited for here.
    if (side === 'secondary' && status.phase === 'exited' && phase.kind === 'takeover') return this.secondaryLeft(status.exitDetail);
    if (side === 'primary' && status.phase === 'exited' && (phase.kind === 'replicating' || phase.kind === 'arbitrating' || phase.kind === 'leaving')) {
      return this.settleAlone();
    }
    return [];
  }

  // A side's heartbeats say its peer is silent. The host pings the suspect,
  // unless it already knows its fate (it ended or froze that worker itself).
  private suspect(reporter: Side, detail: string, silentMs: number): HostEffect[] {
    const phase = this.phaseNow;
    // The service was given up as lost with a checkpoint still on its way to the secondary: it may take over after all.
    const lateRescue = phase.kind === 'lost' && reporter === 'secondary' && phase.serving === 'primary' && this.canTakeOver();
    if ((phase.kind !== 'replicating' && phase.kind !== 'arbitrating' && !lateRescue) || !this.live(reporter)) return [];
    const suspect = other(reporter);
    const suspicions = phase.kind === 'arbitrating' ? phase.suspicions : [];
    const pending = suspicions.find((s) => s.suspect === suspect);
    if (pending) {
      this.phaseNow = { kind: 'arbitrating', suspicions: suspicions.map((s) => (s === pending ? { ...s, detail, silentMs } : s)) };
      return [];
    }
    const { name } = this.pcs[suspect];
    const heard = trace('suspect', `${this.pcs[reporter].name} suspects ${name}: ${detail}`);
    if (suspect === 'secondary' && this.pcs.secondary.status?.phase === 'exited') return [heard, ...this.failed(suspect, 'it left COLO', detail)];
    if (!this.live(suspect)) {
      const { fate, running } = this.pcs[suspect];
      const why =
        fate === 'ended'
          ? 'its worker ended (the host heard so)'
          : `the host ${running ? (fate === 'frozen' ? 'knows it hangs' : 'fenced it') : 'ended its worker'}`;
      return [heard, ...this.failed(suspect, why, detail)];
    }
    const ping = ++this.pings;
    this.phaseNow = { kind: 'arbitrating', suspicions: [...suspicions, { suspect, ping, detail, silentMs, deadline: this.now + this.options.pingTimeoutMs }] };
    return [heard, { kind: 'ping', side: suspect, ping }];
  }

  // Only the answer to the ping a phase waits for decides: a late answer to
  // an older ping is about a moment that has passed.
  private answered(ping: number, answered: boolean): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind === 'leaving' && phase.ping === ping) {
      if (answered && this.live('primary')) {
        this.phaseNow = { kind: 'leaving', deadline: this.now + this.options.leaveMs };
        return [];
      }
      return this.primaryHung();
    }
    if (phase.kind !== 'arbitrating') return [];
    const suspicion = phase.suspicions.find((s) => s.ping === ping);
    if (!suspicion) return [];
    return answered ? this.decide(suspicion) : this.unanswered(suspicion);
  }

  // The suspect answered the host. Silent to its peer yet answering the host:
  // its heartbeats were late (dismissed, at no cost), or the link failed
  // (then the primary, which may have released output no checkpoint of the
  // secondary covers, goes on alone).
  private decide(suspicion: Suspicion): HostEffect[] {
    const { suspect } = suspicion;
    // An answer counts only from a PC the host has not since ended or frozen: it may hang right after answering.
    if (!this.live(suspect)) return this.unanswered(suspicion);
    const name = this.pcs[suspect].name;
    const reporter = this.pcs[other(suspect)].name;
    if (suspicion.silentMs < this.options.linkFailureMs) {
      this.dismissedSuspicions++;
      this.dropSuspicion(suspicion);
      return [
        trace('dismiss', `${name} answered the host: its heartbeats were late, not lost; ${reporter} goes on listening (${this.dismissedSuspicions} so far)`),
      ];
    }
    const falseAlarm = this.cutPair !== this.pair;
    if (falseAlarm) this.falseFailovers++;
    const silence = `the link carried nothing for ${Math.round(suspicion.silentMs)} ms past any busy time announced, while both PCs answered the host`;
    return [
      trace('arbitrate', `${silence}: it failed; ${this.pcs.primary.name} goes on alone and ${this.pcs.secondary.name} will be fenced`),
      ...(falseAlarm ? [trace('false-failover', `nobody cut the link (${this.falseFailovers} so far)`)] : []),
      ...this.leave(silence),
    ];
  }

  private unanswered(suspicion: Suspicion): HostEffect[] {
    const { suspect } = suspicion;
    const falseAlarm = this.live(suspect);
    if (falseAlarm) this.falseFailovers++;
    return [
      // The host did not end or freeze it: as far as it knows, a live PC was too busy to answer.
      ...(falseAlarm
        ? [
            trace(
              'false-failover',
              `${this.pcs[suspect].name} did not answer in ${this.options.pingTimeoutMs} ms, though the host did not end or freeze it (${this.falseFailovers} so far)`,
            ),
          ]
        : []),
      ...this.failed(suspect, `it did not answer the host within ${this.options.pingTimeoutMs} ms`, suspicion.detail),
    ];
  }

  /** The host confirmed `suspect` failed: a failed primary is taken over from, a failed secondary left behind. */
  private failed(suspect: Side, why: string, detail: string): HostEffect[] {
    const confirmed = `${detail}; the host confirmed: ${why}`;
    const name = this.pcs[suspect].name;
    if (suspect === 'primary') {
      return [
        trace('confirm', `${name} failed (${why}): ${this.pcs.secondary.name} takes over`),
        ...this.orderTakeover({ command: 'peerLost', args: [confirmed] }),
      ];
    }
    return [trace('confirm', `${name} failed (${why}): ${this.pcs.primary.name} goes on alone`), ...this.leave(confirmed)];
  }

  // The secondary has taken over, as the host told it to: the old primary is
  // fenced, so it can never speak again, and the new one serves the client.
  // A takeover the host never ordered, with the primary still running, would
  // make two primaries: that secondary is fenced instead.
  private takenOver(from: number): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind !== 'takeover' && phase.kind !== 'lost' && this.live('primary')) {
      return [
        trace('arbitrate', "the secondary took over without the host's word while the primary runs: the secondary is fenced"),
        ...this.fence('secondary'),
      ];
    }
    if (phase.kind === 'alone' || phase.kind === 'reprotecting' || !this.live('secondary')) return [];
    const effects: HostEffect[] = [];
    if (this.pcs.primary.running) {
      effects.push(trace('fence', 'old primary terminated after takeover, so it can never speak again'));
      effects.push(...this.fence('primary'));
    }
    this.phaseNow = { kind: 'alone', survivor: 'secondary' };
    effects.push(trace('primary-changed', `secondary took over from checkpoint ${from}`), { kind: 'retry-client' });
    return effects;
  }

  /** The secondary told to take over left COLO instead (it held no checkpoint), or is gone: the primary goes on alone, if it can. */
  private secondaryLeft(detail: string): HostEffect[] {
    if (this.phaseNow.kind !== 'takeover') return [];
    if (this.live('primary')) return this.leave(`${this.pcs.secondary.name} left COLO: ${detail}`);
    return this.lose(
      `${this.pcs.primary.name}, which served the client, is ${describeFate(this.pcs.primary.fate)} and ${this.pcs.secondary.name} left COLO: ${detail}`,
    );
  }

  // A primary that left COLO holds its output until the host is sure no
  // secondary can take over: the host fences the secondary, then lets it go.
  private settleAlone(): HostEffect[] {
    const effects: HostEffect[] = [...this.retireFormer(`${this.pcs.primary.name} goes on alone`)];
    if (this.live('secondary')) {
      effects.push(trace('fence', "secondary terminated: the primary left COLO, so the secondary's checkpoint no longer covers what it will release"));
    }
    effects.push(...this.fence('secondary'));
    this.phaseNow = { kind: 'alone', survivor: 'primary' };
    return [...effects, this.send('primary', { command: 'confirmAlone', args: [] })];
  }

  // --- the operator and the world

  private kill(side: Side): HostEffect[] {
    if (!this.pcs[side].running) return [];
    return [trace(side === 'primary' ? 'kill-primary' : 'kill-secondary', `${side} worker terminated`), ...this.fence(side, 'killed')];
  }

  // Make before break: the new pair starts with the old secondary kept as
  // the former. Only from a protected pair, with the spare ready, and one
  // hand-over at a time.
  private handOver(): HostEffect[] {
    const spare = this.spareNow;
    if (this.phaseNow.kind !== 'replicating' || !this.protected || this.formerNow || spare?.state !== 'ready') return [];
    const { primary, secondary } = this.pcs;
    this.formerNow = { pc: secondary, deadline: this.now + this.options.handOverMs };
    this.spareNow = undefined;
    this.pair++;
    this.pcs = {
      primary: { name: primary.name, fate: primary.fate, running: primary.running, pair: this.pair },
      secondary: { ...newPc(spare.name, this.pair), running: true },
    };
    return [
      trace(
        'hand-over',
        `${spare.name} becomes ${primary.name}'s secondary; ${secondary.name} keeps checkpoint ${secondary.status?.committed ?? 0} until ${spare.name} holds one, and ${primary.name} holds its replies`,
      ),
      { kind: 'pair', survivor: 'primary', pair: this.pair, handOver: true },
    ];
  }

  /** The former ends: the new secondary holds a checkpoint, or nothing more may rely on the former's. */
  private retireFormer(why: string): HostEffect[] {
    const former = this.formerNow;
    if (!former) return [];
    this.formerNow = undefined;
    if (!former.pc.running) return [];
    endWorker(former.pc, 'fenced');
    return [trace('retire-secondary', `${former.pc.name} retired: ${why}`), { kind: 'terminate', side: 'former' }];
  }

  /** The former lives, is still in COLO, and holds a checkpoint it could take over from. */
  private formerHolds(): boolean {
    const former = this.formerNow?.pc;
    const status = former?.status;
    return (
      former !== undefined &&
      former.running &&
      former.fate === 'alive' &&
      status !== undefined &&
      status.phase !== 'exited' &&
      status.role !== 'primary' &&
      status.committed > 0
    );
  }

  // The primary failed before the new secondary held a checkpoint: the
  // former, which holds the last one, takes the secondary's role back (in
  // its own pair) and the new secondary ends.
  private fallBack(): HostEffect[] {
    const former = this.formerNow;
    if (!former) return [];
    this.formerNow = undefined;
    const replaced = this.pcs.secondary;
    const effects: HostEffect[] = [
      trace('hand-over', `${replaced.name} holds no checkpoint yet: ${former.pc.name}, the secondary before it, takes over in its place`),
    ];
    if (replaced.running) {
      endWorker(replaced, 'fenced');
      effects.push({ kind: 'terminate', side: 'secondary' });
    }
    this.pcs.secondary = former.pc;
    // What the operator changed meanwhile reached the new pair, not the former.
    const { periodMs, mode, outputCommit, compare } = this.desired;
    const settings: SettingsChange = { periodMs, mode, outputCommit, compare: { ...compare }, gate: this.gates.secondary };
    return [...effects, { kind: 'fall-back' }, this.send('secondary', { command: 'configure', args: [settings] })];
  }

  private workerEnded(side: Side | Standby | Former, detail: string): HostEffect[] {
    if (side === 'standby') return this.spareNow ? this.giveUpSpare(`failed: ${detail}`) : [];
    if (side === 'former') {
      const former = this.formerNow;
      if (!former?.pc.running) return [];
      this.formerNow = undefined;
      former.pc.running = false;
      former.pc.fate = 'ended';
      return [trace('worker-ended', `${former.pc.name} (the secondary before the hand-over): ${detail}`), { kind: 'terminate', side: 'former' }];
    }
    const pc = this.pcs[side];
    if (!pc.running || pc.fate !== 'alive') return [];
    pc.fate = 'ended';
    pc.running = false;
    return [trace('worker-ended', `${pc.name} (${side}): ${detail}`), { kind: 'terminate', side }, ...this.gone(side)];
  }

  private failover(): HostEffect[] {
    const phase = this.phaseNow;
    // A suspicion being checked needs no wait: the takeover is ordered, and the ping's answer then decides nothing.
    if ((phase.kind !== 'replicating' && phase.kind !== 'arbitrating') || !this.live('secondary')) return [];
    return [trace('failover-command', 'x-colo-lost-heartbeat sent to the secondary'), ...this.orderTakeover({ command: 'lostHeartbeat', args: [] })];
  }

  private configure(change: SettingsChange, side: Side | undefined): HostEffect[] {
    const { gate, ...pairSettings } = change;
    Object.assign(this.desired, pairSettings);
    const sides: readonly Side[] = side ? [side] : SIDES;
    if (gate) for (const s of sides) this.gates[s] = gate;
    const effects: HostEffect[] = [];
    for (const s of SIDES) {
      const forSide: SettingsChange = { ...pairSettings, ...(gate && sides.includes(s) ? { gate } : {}) };
      if (Object.keys(forSide).length > 0) effects.push(...this.toRunning([s], { command: 'configure', args: [forSide] }));
    }
    return effects;
  }

  // --- moves between phases

  private orderTakeover(call: CommandCall): HostEffect[] {
    const effects = this.formerNow && !this.secondaryHolds() && this.formerHolds() ? this.fallBack() : this.retireFormer('the new secondary takes over');
    this.phaseNow = { kind: 'takeover', deadline: this.now + this.options.takeoverMs };
    return [...effects, this.send('secondary', call)];
  }

  /** The primary is told to leave COLO; it releases alone once it has, and the secondary is fenced. */
  private leave(detail: string): HostEffect[] {
    const primary = this.pcs.primary.status;
    if (primary?.phase === 'exited') return this.settleAlone();
    this.phaseNow = { kind: 'leaving', deadline: this.now + this.options.leaveMs };
    return [this.send('primary', { command: 'peerLost', args: [detail] })];
  }

  /** The primary, told to leave COLO, did not, and does not answer: it hangs. The secondary takes over if it can. */
  private primaryHung(): HostEffect[] {
    const effects = [trace('confirm', `${this.pcs.primary.name} did not leave COLO and does not answer the host: it is fenced`), ...this.fence('primary')];
    if (this.canTakeOver()) return [...effects, ...this.orderTakeover({ command: 'peerLost', args: [`${this.pcs.primary.name} hangs`] })];
    return effects;
  }

  private deadlines(): HostEffect[] {
    const effects: HostEffect[] = [];
    const former = this.formerNow;
    if (former && former.deadline <= this.now) {
      const why = `${this.pcs.secondary.name} did not hold a checkpoint within ${this.options.handOverMs} ms of the hand-over`;
      if (this.live('primary')) effects.push(...this.retireFormer(why), ...this.failed('secondary', why, 'the hand-over was given up'));
      else
        effects.push(
          trace('confirm', `${why}, and ${this.pcs.primary.name} is ${describeFate(this.pcs.primary.fate)}`),
          ...this.orderTakeover({ command: 'peerLost', args: [why] }),
        );
    }
    const spare = this.spareNow;
    if (spare?.state === 'starting' && spare.deadline <= this.now) {
      effects.push(...this.giveUpSpare(`${spare.name} did not start within ${this.options.spareStartMs} ms`));
    }
    const phase = this.phaseNow;
    if (phase.kind === 'arbitrating') {
      const due = phase.suspicions.find((s) => s.deadline <= this.now);
      if (due && this.starvedPast(due)) {
        const graced: Suspicion = { ...due, deadline: this.now + STARVED_GRACE_MS, graced: true };
        this.phaseNow = { kind: 'arbitrating', suspicions: phase.suspicions.map((s) => (s === due ? graced : s)) };
        effects.push(this.lateTick(due, this.pcs[due.suspect].name));
      } else if (due) effects.push(...this.unanswered(due));
    } else if (phase.kind === 'takeover' && phase.deadline <= this.now) {
      const why = `${this.pcs.secondary.name} did not take over within ${this.options.takeoverMs} ms`;
      // The primary lets go of nothing before the secondary is fenced (leave, then fence: both before any confirmAlone).
      if (this.live('primary'))
        effects.push(trace('fence', `${why}: it is fenced and ${this.pcs.primary.name} goes on alone`), ...this.leave(why), ...this.fence('secondary'));
      else effects.push(...this.lose(`${this.pcs.primary.name}, which served the client, is ${describeFate(this.pcs.primary.fate)} and ${why}`));
    } else if (phase.kind === 'leaving' && phase.deadline <= this.now) {
      if (phase.ping !== undefined && this.starvedPast(phase)) {
        this.phaseNow = { ...phase, deadline: this.now + STARVED_GRACE_MS, graced: true };
        return [...effects, this.lateTick(phase, this.pcs.primary.name)];
      }
      if (phase.ping !== undefined) return [...effects, ...this.primaryHung()];
      const ping = ++this.pings;
      this.phaseNow = { kind: 'leaving', deadline: this.now + this.options.pingTimeoutMs, ping };
      effects.push({ kind: 'ping', side: 'primary', ping });
    }
    return effects;
  }

  /** Whether a ping's deadline came so late that the host was starved, and it has not yet waited on for that. */
  private starvedPast(wait: { deadline: number; graced?: true }): boolean {
    return !wait.graced && this.now - wait.deadline > LATE_TICK_MS;
  }

  private lateTick(wait: { deadline: number }, name: string): HostEffect {
    return trace(
      'late-tick',
      `the host's timer came ${Math.round(this.now - wait.deadline)} ms late: it was itself starved, so it waits ${STARVED_GRACE_MS} ms more for ${name}'s answer before it judges`,
    );
  }

  // A PC the host no longer hears from (killed, frozen, its tab closed): what
  // waited for it stops waiting.
  private gone(side: Side): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind === 'arbitrating') {
      // Its suspicion of its peer is moot; a suspicion of it is confirmed.
      const about = phase.suspicions.find((s) => s.suspect === side);
      this.phaseNow = { kind: 'replicating' };
      if (about) return this.unanswered(about);
    }
    if (phase.kind === 'takeover' && side === 'secondary') return this.secondaryLeft('its worker is gone');
    if (phase.kind === 'leaving' && side === 'primary')
      return this.canTakeOver() ? this.orderTakeover({ command: 'peerLost', args: [`${this.pcs.primary.name} is gone`] }) : [];
    return [];
  }

  /** Ends `side`'s worker (if it runs) so that it can never speak again. */
  private fence(side: Side, fate: Fate = 'fenced'): HostEffect[] {
    const pc = this.pcs[side];
    if (!pc.running) return [];
    endWorker(pc, fate);
    return [{ kind: 'terminate', side }, ...this.gone(side)];
  }

  private lose(reason: string): HostEffect[] {
    this.phaseNow = { kind: 'lost', serving: this.serving, reason };
    return [trace('service-lost', reason), ...this.retireFormer('the service is lost')];
  }

  // Once the PC that serves is gone, and no secondary can take over from it,
  // the service is lost (its state is nowhere else), and the page says so.
  private checkLost(): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind === 'lost') return [];
    const side = this.serving;
    if (this.live(side)) return [];
    if (side === 'primary' && phase.kind !== 'alone' && phase.kind !== 'reprotecting' && this.canTakeOver()) return [];
    const secondary = this.pcs.secondary.status;
    const why = side === 'primary' && secondary?.phase === 'exited' ? `; ${this.pcs.secondary.name} left COLO: ${secondary.exitDetail}` : '';
    return this.lose(`${this.pcs[side].name}, which served the client, is ${describeFate(this.pcs[side].fate)} and no PC can take over${why}`);
  }

  /** The secondary (or a former) lives, is still in COLO, and holds a checkpoint or may yet (one is on its way or loading). */
  private canTakeOver(): boolean {
    return this.secondaryHolds() || this.formerHolds();
  }

  private secondaryHolds(): boolean {
    const secondary = this.pcs.secondary.status;
    if (!this.live('secondary') || secondary === undefined || secondary.phase === 'exited' || secondary.role === 'primary') return false;
    return secondary.committed > 0 || secondary.phase === 'await-send' || secondary.phase === 'await-size' || secondary.phase === 'loading';
  }

  // --- re-protection

  private maybeAutoReprotect(): HostEffect[] {
    return this.autoReprotect && this.canReprotect ? this.reprotect() : [];
  }

  /**
   * A spare starts as soon as the pair is unprotected, so re-protection need
   * not wait for a worker to boot and restore the snapshot; with a warm spare,
   * already once the pair is protected (not before: its start would compete
   * with the pair's own). Only a lost service gives it up.
   */
  private keepSpare(): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind === 'lost') {
      if (!this.spareNow) return [];
      this.spareNow = undefined;
      return [{ kind: 'terminate', side: 'standby' }];
    }
    const unprotected = phase.kind === 'alone' || phase.kind === 'reprotecting';
    if (this.spareNow || !(unprotected || (this.warmSpareNow && this.protected))) return [];
    const name = this.nextName();
    this.spareNow = { name, state: 'starting', deadline: this.now + this.options.spareStartMs };
    const survivor = this.pcs[this.serving].name;
    const purpose =
      phase.kind === 'alone'
        ? `ready to protect ${survivor} again`
        : unprotected
          ? `to protect ${survivor} again`
          : 'to replace whichever PC of the pair fails';
    return [trace('spare', `${name} starts in standby (a worker, the booted snapshot restored), ${purpose}`), { kind: 'start-standby', name }];
  }

  // The new secondary is the spare: already waiting (the pair forms now), or
  // still starting (it forms once the spare is ready).
  private reprotect(): HostEffect[] {
    const phase = this.phaseNow;
    if (phase.kind !== 'alone') return [];
    const { survivor } = phase;
    this.phaseNow = { kind: 'reprotecting', survivor };
    const effects = [...this.fence(other(survivor)), ...this.keepSpare()];
    const spare = this.spareNow as Spare;
    const receives = `it receives ${this.pcs[survivor].name}'s state`;
    const ready = spare.state === 'ready';
    effects.push(
      trace(
        'reprotect',
        ready
          ? `${spare.name}, waiting in standby, becomes the secondary: ${receives}`
          : `${spare.name} becomes the secondary once it has started: ${receives}`,
      ),
    );
    return ready ? [...effects, ...this.pairUp()] : effects;
  }

  private standbyReady(): HostEffect[] {
    if (!this.spareNow) return [];
    this.spareNow.state = 'ready';
    return this.phaseNow.kind === 'reprotecting' ? this.pairUp() : [];
  }

  private giveUpSpare(why: string): HostEffect[] {
    if (!this.spareNow) return [];
    this.spareNow = undefined;
    // keepSpare starts another while one is still wanted.
    return [{ kind: 'terminate', side: 'standby' }, trace('reprotect', why)];
  }

  /** The survivor and the spare become a new pair: one record each, nothing carried over but the survivor's name. */
  private pairUp(): HostEffect[] {
    const phase = this.phaseNow;
    const spare = this.spareNow;
    if (phase.kind !== 'reprotecting' || spare?.state !== 'ready') return [];
    const { survivor } = phase;
    this.spareNow = undefined;
    this.pair++;
    this.pcs = { primary: { ...newPc(this.pcs[survivor].name, this.pair), running: true }, secondary: { ...newPc(spare.name, this.pair), running: true } };
    this.phaseNow = { kind: 'replicating' };
    return [{ kind: 'pair', survivor, pair: this.pair }];
  }

  // --- small helpers

  /** The PC in `side`'s role runs, and the host has not killed, frozen or fenced it. */
  private live(side: Side): boolean {
    const pc = this.pcs[side];
    return pc.running && pc.fate === 'alive';
  }

  private dropSuspicion(suspicion: Suspicion): void {
    const phase = this.phaseNow;
    if (phase.kind !== 'arbitrating') return;
    const remaining = phase.suspicions.filter((s) => s !== suspicion);
    this.phaseNow = remaining.length > 0 ? { kind: 'arbitrating', suspicions: remaining } : { kind: 'replicating' };
  }

  private send(side: Side, call: CommandCall): HostEffect {
    return { kind: 'send', side, pair: this.pcs[side].pair, call };
  }

  private toRunning(sides: readonly Side[], call: CommandCall): HostEffect[] {
    return sides.filter((side) => this.pcs[side].running).map((side) => this.send(side, call));
  }

  private nextName(): string {
    return `PC ${String.fromCharCode(65 + (this.machinesMade++ % 26))}`;
  }
}

function newPc(name: string, pair: number): Pc {
  return { name, fate: 'alive', running: false, pair };
}

/** The host ends `pc`'s worker: one that had not failed otherwise ends with `fate`. */
function endWorker(pc: Pc, fate: Fate): void {
  pc.running = false;
  if (pc.fate === 'alive' || pc.fate === 'frozen') pc.fate = fate;
}

function describeFate(fate: Fate): string {
  return fate === 'alive' || fate === 'ended' ? 'gone' : fate;
}

function trace(action: HostAction, detail: string): HostEffect {
  return { kind: 'trace', action, detail };
}
