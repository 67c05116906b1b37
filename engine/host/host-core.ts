// The host's policy for a replicated pair, as a pure state machine: which PC
// serves the client, when a PC is fenced, when a primary out of COLO may
// release what it holds, who wins when both sides claim to be primary, and
// when a new pair may start. The host is also the pair's witness: a side's
// heartbeats only make it suspect its peer; the host pings the suspect and
// decides (gone or hung: the reporter goes on without it; answering: the
// suspicion is dismissed, unless the link has carried nothing for so long that
// it failed, and then the primary goes on alone). So a late heartbeat costs a
// ping, never a failover. Inputs arrive as data (the workers' statuses and
// released lines, the operator's commands, the answers to pings), effects leave
// as data. It owns no timers, workers or ports: engine/host/cluster.ts wires it.
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

export type HostInput =
  /** Both PCs of the first pair are being started. */
  | { kind: 'start' }
  | { kind: 'status'; side: Side; status: ReplicationStatus }
  /** Output a side's worker released, in order. */
  | { kind: 'released'; side: Side; lines: string[] }
  /** Output the serving PC released in its previous role while its new pair was starting. */
  | { kind: 'released-before'; lines: string[] }
  /** `side` heard nothing from its peer for `silentMs` (missed heartbeats, or its end of the channel closed). */
  | { kind: 'peer-silent'; side: Side; detail: string; silentMs: number }
  /** The answer to `ping`: did `side` answer the host in time? */
  | { kind: 'ping-answered'; side: Side; answered: boolean }
  | { kind: 'kill'; side: Side }
  /**
   * `side`'s worker ended without the host ending it (the tab that ran it
   * closed). The pair still learns it from heartbeats; the host only knows
   * the PC will not answer, so its silence is no false alarm.
   */
  | { kind: 'worker-ended'; side: Side | Standby; detail: string }
  | { kind: 'freeze-primary' }
  | { kind: 'cut-link' }
  /** QEMU's x-colo-lost-heartbeat, given to the secondary. */
  | { kind: 'failover' }
  | { kind: 'checkpoint-now' }
  /** `side`: whose gate a gate change is (both when absent); the other settings are the pair's. */
  | { kind: 'configure'; change: SettingsChange; side?: Side }
  | { kind: 'auto-reprotect'; on: boolean }
  /** The operator asks for a new secondary (refused unless `canReprotect`). */
  | { kind: 'reprotect' }
  | { kind: 'standby-ready' }
  | { kind: 'standby-failed'; error: string }
  /** The new pair's replication has started (or failed to). */
  | { kind: 'pair-started' };

export type HostEffect =
  | { kind: 'trace'; action: HostAction; detail: string }
  /** End that PC's worker at once, as a crash would. */
  | { kind: 'terminate'; side: Side | Standby }
  | { kind: 'send'; side: Side; call: CommandCall }
  /** Ask `side` whether it still answers; reply with `ping-answered` after at most `timeoutMs`. */
  | { kind: 'ping'; side: Side; timeoutMs: number }
  /** Lines the client may now see, from the PC that serves it. */
  | { kind: 'deliver'; side: Side; lines: string[] }
  /** Send the client's unanswered request again, to whichever PC now serves. */
  | { kind: 'retry-client' }
  /** Start a new worker in standby; reply with `standby-ready` or `standby-failed`. */
  | { kind: 'start-standby'; name: string }
  /** The PC on side `survivor` becomes the primary and the standby its secondary: start replicating; reply with `pair-started`. */
  | { kind: 'pair'; survivor: Side };

export interface HostCoreOptions {
  config: ReplicationConfig;
  /** How long the host waits for a suspect's answer before it counts as hung. */
  pingTimeoutMs: number;
  /** A link silent this long while both sides answer the host has failed: the primary goes on alone. */
  linkFailureMs: number;
}

/** A side suspected by its peer, while the host's ping is out. */
interface Suspicion {
  detail: string;
  silentMs: number;
  /** The pair it was raised in: an answer about an earlier pair decides nothing. */
  pair: number;
}

const other = (side: Side): Side => (side === 'primary' ? 'secondary' : 'primary');

export class HostCore {
  /** Which PC serves the client: the original primary, or the secondary after takeover. */
  serving: Side = 'primary';
  readonly fate: Record<Side, Fate> = { primary: 'alive', secondary: 'alive' };
  /** Whether the PC in each role has a worker (the host is the only one that ends workers). */
  readonly running: Record<Side, boolean> = { primary: false, secondary: false };
  /** Latest status reported by each side's worker. */
  readonly status: Partial<Record<Side, ReplicationStatus>> = {};
  /** The name of the PC in each role, for people: PC A, PC B, PC C… */
  readonly names: Record<Side, string> = { primary: '', secondary: '' };
  /**
   * Protection ended although no PC was killed or frozen and nobody cut the
   * link: the link counted as failed while both answered, or a live PC did not
   * answer the host's ping in time.
   */
  falseFailovers = 0;
  /** Suspicions the host dismissed because the suspect answered: late heartbeats that cost nothing. */
  dismissedSuspicions = 0;
  /** The operator cut this pair's link (a takeover it causes is a real one). */
  private linkCut = false;
  private readonly suspected = new Map<Side, Suspicion>();
  /** Counts pairs (and takeovers): what a suspicion belongs to. */
  private pair = 0;
  /** The host told the secondary to take over (the operator, or a confirmed suspicion). */
  private takeoverOrdered = false;
  private confirmedAlone = false;
  private autoReprotect = false;
  /** A re-protection under way: who survives, and the new PC's name. */
  private reprotection: { survivor: Side; name: string } | undefined;
  /**
   * A PC started in standby as soon as the pair is unprotected, so that
   * re-protection need not wait for a worker to boot and restore the snapshot.
   * It replaces the PC that was lost: an unprotected pair runs no more PCs than a protected one.
   */
  private spareStandby: { name: string; ready: boolean } | undefined;
  private machinesMade = 0;
  /** The configuration as the operator last set it: every pair, and every later one, gets it. */
  private readonly desired: ReplicationConfig;
  /** The gate of each role's side (the configuration's own gate is the primary's). */
  private readonly gates: Record<Side, GateConfig>;

  constructor(private readonly options: HostCoreOptions) {
    const { config } = options;
    this.desired = { ...config, compare: { ...config.compare }, heartbeat: { ...config.heartbeat } };
    this.gates = { primary: config.gate, secondary: config.gate };
  }

  /** A suspicion is being checked: the host's ping is out, and which PC survives is not yet known. */
  get arbitrating(): boolean {
    return this.suspected.size > 0;
  }

  /** A new secondary is being started, or its pair is not yet replicating. */
  get reprotecting(): boolean {
    return this.reprotection !== undefined;
  }

  /** What the operator last chose, with that side's gate: a copy, so a pair cannot change it. */
  configFor(side: Side): ReplicationConfig {
    return { ...this.desired, compare: { ...this.desired.compare }, gate: this.gates[side] };
  }

  /** The secondary holds a whole checkpoint: failover now loses nothing a client saw. */
  get protected(): boolean {
    const p = this.status.primary;
    return (
      this.serving === 'primary' &&
      this.fate.primary === 'alive' &&
      this.fate.secondary === 'alive' &&
      p !== undefined &&
      p.exitReason === 'none' &&
      p.committed >= 1 &&
      this.running.secondary
    );
  }

  /** After a failover, or with the secondary gone: a fresh secondary may start from the survivor's state. */
  get canReprotect(): boolean {
    return this.survivorAlone && !this.reprotection;
  }

  /** The PC waiting in standby for the next re-protection, if one was started. */
  get spare(): { name: string; ready: boolean } | undefined {
    return this.spareStandby && { ...this.spareStandby };
  }

  /** One PC serves, out of COLO, and is settled (while the host arbitrates, or a takeover it ordered is under way, it does not yet know which PC survives). */
  private get survivorAlone(): boolean {
    const survivor = this.serving;
    const ended = survivor === 'secondary' || this.status.primary?.phase === 'exited';
    return ended && this.live(survivor) && !this.arbitrating && !this.takeoverOrdered;
  }

  /** Why no PC can serve the client any more, or undefined while one can (or may yet, by a failover). */
  get serviceLost(): string | undefined {
    if (this.arbitrating) return undefined;
    const side = this.serving;
    if (this.running[side] && this.fate[side] === 'alive') return undefined;
    // A secondary can take over once it holds a checkpoint, or is loading one.
    const secondary = this.status.secondary;
    const canTakeOver = secondary !== undefined && secondary.phase !== 'exited' && (secondary.committed > 0 || secondary.phase === 'loading');
    if (side === 'primary' && this.live('secondary') && canTakeOver) return undefined;
    const why = side === 'primary' && secondary?.phase === 'exited' ? `; ${this.names.secondary} left COLO: ${secondary.exitDetail}` : '';
    const fate = this.fate[side];
    return `${this.names[side]}, which served the client, is ${fate === 'alive' || fate === 'ended' ? 'gone' : fate} and no PC can take over${why}`;
  }

  /** A side's events are heard until the host ended its worker: a terminated worker's last messages may still be in flight. */
  hears(side: Side): boolean {
    return this.fate[side] !== 'killed' && this.fate[side] !== 'fenced';
  }

  /** Where the client's bytes go: the serving PC, and in compare mode the secondary too (it runs every request). */
  clientTargets(): { serve: Side | undefined; mirror: Side | undefined } {
    const serve = this.running[this.serving] ? this.serving : undefined;
    const mirror =
      this.serving === 'primary' && this.desired.compare.enabled && this.fate.secondary === 'alive' && this.running.secondary ? 'secondary' : undefined;
    return { serve, mirror };
  }

  handle(input: HostInput): HostEffect[] {
    const effects = this.apply(input);
    return [...effects, ...this.maybeAutoReprotect(), ...this.maybeStartSpare()];
  }

  private apply(input: HostInput): HostEffect[] {
    switch (input.kind) {
      case 'start':
        this.names.primary = this.nextName();
        this.names.secondary = this.nextName();
        this.running.primary = true;
        this.running.secondary = true;
        return [trace('start', `${this.names.primary} from the booted snapshot, ${this.names.secondary} in standby`)];
      case 'status':
        return this.onStatus(input.side, input.status);
      case 'released':
        // Only the serving PC speaks for the service.
        return input.side === this.serving ? [{ kind: 'deliver', side: input.side, lines: input.lines }] : [];
      case 'released-before':
        // A survivor's output released by its previous role is still real output of the PC that serves.
        return [{ kind: 'deliver', side: this.serving, lines: input.lines }];
      case 'peer-silent':
        return this.suspect(input.side, input.detail, input.silentMs);
      case 'ping-answered':
        return this.decide(input.side, input.answered);
      case 'kill':
        return input.side === 'primary' ? this.killPrimary() : this.killSecondary();
      case 'worker-ended':
        return this.workerEnded(input.side, input.detail);
      case 'freeze-primary':
        if (!this.running.primary || this.fate.primary !== 'alive') return [];
        this.fate.primary = 'frozen';
        return [trace('freeze-primary', 'primary VM stopped; it sends and reads nothing'), send('primary', { command: 'freeze', args: [] })];
      case 'cut-link':
        this.linkCut = true;
        return [trace('cut-link', 'the replication channel carries nothing more'), ...this.toRunning(['primary', 'secondary'], { command: 'cutLink', args: [] })];
      case 'failover':
        return this.failover();
      case 'checkpoint-now':
        return this.toRunning(['primary'], { command: 'checkpointNow', args: [] });
      case 'configure':
        return this.configure(input.change, input.side);
      case 'auto-reprotect':
        this.autoReprotect = input.on;
        return [];
      case 'reprotect':
        return this.canReprotect ? this.reprotect() : [];
      case 'standby-ready':
        return this.standbyReady();
      case 'standby-failed':
        this.reprotection = undefined;
        this.spareStandby = undefined;
        return [{ kind: 'terminate', side: 'standby' }, trace('reprotect', `failed: ${input.error}`)];
      case 'pair-started':
        this.reprotection = undefined;
        this.linkCut = false;
        return [];
    }
  }

  private onStatus(side: Side, status: ReplicationStatus): HostEffect[] {
    const effects: HostEffect[] = [];
    const wasProtected = this.protected;
    this.status[side] = status;
    if (!wasProtected && this.protected) effects.push(trace('protected', `secondary holds checkpoint ${status.committed}`));
    if (side === 'secondary' && status.role === 'primary' && this.serving === 'primary') effects.push(...this.takenOver(status.committed));
    if (side === 'secondary' && status.phase === 'exited') this.takeoverOrdered = false;
    return [...effects, ...this.settleAfterExit()];
  }

  // A side's heartbeats say its peer is silent. The host pings the suspect,
  // unless it already knows its fate (it ended or froze that worker itself).
  private suspect(reporter: Side, detail: string, silentMs: number): HostEffect[] {
    const suspect = other(reporter);
    if (this.serving !== 'primary' || !this.live(reporter)) return [];
    const pending = this.suspected.get(suspect);
    if (pending) {
      pending.detail = detail;
      pending.silentMs = silentMs;
      return [];
    }
    const heard = trace('suspect', `${this.names[reporter]} heard nothing from ${this.names[suspect]} for ${Math.round(silentMs)} ms (${detail})`);
    if (!this.live(suspect)) {
      const why = this.fate[suspect] === 'ended' ? 'its worker ended (the host heard so)' : `the host ${this.running[suspect] ? (this.fate[suspect] === 'frozen' ? 'knows it hangs' : 'fenced it') : 'ended its worker'}`;
      return [heard, ...this.peerFailed(reporter, why, detail)];
    }
    this.suspected.set(suspect, { detail, silentMs, pair: this.pair });
    return [heard, { kind: 'ping', side: suspect, timeoutMs: this.options.pingTimeoutMs }];
  }

  // The suspect answered the host, or did not. Silent to its peer yet
  // answering the host: its heartbeats were late (dismissed, at no cost), or
  // the link failed (then the primary, which may have released output no
  // checkpoint of the secondary covers, goes on alone).
  private decide(suspect: Side, pinged: boolean): HostEffect[] {
    const suspicion = this.suspected.get(suspect);
    this.suspected.delete(suspect);
    const reporter = other(suspect);
    if (!suspicion || suspicion.pair !== this.pair || this.serving !== 'primary' || !this.live(reporter)) return [];
    const name = this.names[suspect];
    // An answer counts only from a PC the host has not since ended or frozen: it may hang right after answering.
    if (!pinged || !this.live(suspect)) {
      // The host did not end or freeze it: as far as it knows, a live PC was too busy to answer.
      const falseAlarm = this.live(suspect);
      if (falseAlarm) this.falseFailovers++;
      return [
        ...(falseAlarm ? [trace('false-failover', `${name} did not answer in ${this.options.pingTimeoutMs} ms, though the host did not end or freeze it (${this.falseFailovers} so far)`)] : []),
        ...this.peerFailed(reporter, `it did not answer the host within ${this.options.pingTimeoutMs} ms`, suspicion.detail),
      ];
    }
    if (suspicion.silentMs < this.options.linkFailureMs) {
      this.dismissedSuspicions++;
      return [
        trace('dismiss', `${name} answered the host: its heartbeats were late, not lost; ${this.names[reporter]} goes on listening (${this.dismissedSuspicions} so far)`),
      ];
    }
    const falseAlarm = !this.linkCut;
    if (falseAlarm) this.falseFailovers++;
    const silence = `the link carried nothing for ${Math.round(suspicion.silentMs)} ms while both PCs answered the host`;
    return [
      trace('arbitrate', `${silence}: it failed; ${this.names.primary} goes on alone and ${this.names.secondary} will be fenced`),
      ...(falseAlarm ? [trace('false-failover', `nobody cut the link (${this.falseFailovers} so far)`)] : []),
      ...this.toRunning(['primary'], { command: 'peerLost', args: [silence] }),
    ];
  }

  /** The host confirmed the reporter's suspicion: a secondary takes over, a primary leaves COLO (then the host fences the secondary). */
  private peerFailed(reporter: Side, why: string, detail: string): HostEffect[] {
    const suspect = this.names[other(reporter)];
    const confirmed = `${detail}; the host confirmed: ${why}`;
    if (reporter === 'secondary') {
      this.takeoverOrdered = true;
      return [trace('confirm', `${suspect} failed (${why}): ${this.names.secondary} takes over`), send('secondary', { command: 'peerLost', args: [confirmed] })];
    }
    return [trace('confirm', `${suspect} failed (${why}): ${this.names.primary} goes on alone`), send('primary', { command: 'peerLost', args: [confirmed] })];
  }

  // The secondary has taken over, as the host told it to: the old primary is
  // fenced, so it can never speak again, and the new one serves the client.
  // A takeover the host never ordered, with the primary still running, would
  // make two primaries: that secondary is fenced instead.
  private takenOver(from: number): HostEffect[] {
    if (!this.takeoverOrdered && this.live('primary')) {
      return [trace('arbitrate', 'the secondary took over without the host\'s word while the primary runs: the secondary is fenced'), ...this.retireSecondary('fenced')];
    }
    this.takeoverOrdered = false;
    this.newPair();
    const effects: HostEffect[] = [];
    if (this.running.primary) {
      effects.push(trace('fence', 'old primary terminated after takeover, so it can never speak again'));
      if (this.fate.primary === 'alive' || this.fate.primary === 'frozen') this.fate.primary = 'fenced';
      effects.push(...this.end('primary'));
    }
    this.serving = 'secondary';
    effects.push(trace('primary-changed', `secondary took over from checkpoint ${from}`), { kind: 'retry-client' });
    return effects;
  }

  // A primary that left COLO holds its output until the host is sure no
  // secondary can take over: the host fences the secondary, then lets it go.
  private settleAfterExit(): HostEffect[] {
    const primary = this.status.primary;
    if (!primary || primary.phase !== 'exited' || this.confirmedAlone) return [];
    if (this.serving !== 'primary' || this.takeoverOrdered) return [];
    if (!this.running.primary || this.fate.primary !== 'alive') return [];
    const effects: HostEffect[] = [];
    if (this.live('secondary')) {
      effects.push(trace('fence', "secondary terminated: the primary left COLO, so the secondary's checkpoint no longer covers what it will release"));
      effects.push(...this.retireSecondary('fenced'));
    }
    this.confirmedAlone = true;
    return [...effects, send('primary', { command: 'confirmAlone', args: [] })];
  }

  private killPrimary(): HostEffect[] {
    if (!this.running.primary) return [];
    this.fate.primary = 'killed';
    return [trace('kill-primary', 'primary worker terminated'), ...this.end('primary')];
  }

  private killSecondary(): HostEffect[] {
    if (!this.running.secondary) return [];
    return [trace('kill-secondary', 'secondary worker terminated'), ...this.retireSecondary('killed')];
  }

  private workerEnded(side: Side | Standby, detail: string): HostEffect[] {
    if (side === 'standby') return this.spareStandby ? this.handle({ kind: 'standby-failed', error: detail }) : [];
    if (!this.running[side] || this.fate[side] !== 'alive') return [];
    this.fate[side] = 'ended';
    if (side === 'secondary') this.takeoverOrdered = false;
    return [trace('worker-ended', `${this.names[side]} (${side}): ${detail}`), ...this.end(side)];
  }

  // An operator failover waits for the secondary to answer it; a secondary
  // that can no longer answer must not keep the primary waiting for it.
  private retireSecondary(fate: 'killed' | 'fenced'): HostEffect[] {
    this.fate.secondary = fate;
    this.takeoverOrdered = false;
    return this.end('secondary');
  }

  private failover(): HostEffect[] {
    // A suspicion being checked needs no wait: the takeover starts a new pair, and the ping's answer then decides nothing.
    if (!this.running.secondary || this.fate.secondary !== 'alive' || this.serving !== 'primary') return [];
    this.takeoverOrdered = true;
    return [trace('failover-command', 'x-colo-lost-heartbeat sent to the secondary'), send('secondary', { command: 'lostHeartbeat', args: [] })];
  }

  private configure(change: SettingsChange, side: Side | undefined): HostEffect[] {
    const { gate, ...pairSettings } = change;
    Object.assign(this.desired, pairSettings);
    const sides: Side[] = side ? [side] : ['primary', 'secondary'];
    if (gate) for (const s of sides) this.gates[s] = gate;
    const effects: HostEffect[] = [];
    for (const s of ['primary', 'secondary'] as const) {
      const forSide: SettingsChange = { ...pairSettings, ...(gate && sides.includes(s) ? { gate } : {}) };
      if (Object.keys(forSide).length > 0) effects.push(...this.toRunning([s], { command: 'configure', args: [forSide] }));
    }
    return effects;
  }

  private maybeAutoReprotect(): HostEffect[] {
    if (!this.autoReprotect || !this.canReprotect) return [];
    // Only once the survivor is settled: serving, and (if the old primary) releasing again.
    if (this.serving === 'primary' && !this.confirmedAlone) return [];
    return this.reprotect();
  }

  private maybeStartSpare(): HostEffect[] {
    if (this.spareStandby || this.reprotection || !this.survivorAlone) return [];
    return this.startSpare(`ready to protect ${this.names[this.serving]} again`);
  }

  private startSpare(purpose: string): HostEffect[] {
    const name = this.nextName();
    this.spareStandby = { name, ready: false };
    return [trace('spare', `${name} starts in standby (a worker, the booted snapshot restored), ${purpose}`), { kind: 'start-standby', name }];
  }

  // The new secondary is the spare: already waiting (the pair forms now), or
  // still starting (it forms once the spare is ready), or started here.
  private reprotect(): HostEffect[] {
    const survivor = this.serving;
    const effects = [...this.end(other(survivor)), ...(this.spareStandby ? [] : this.startSpare(`to protect ${this.names[survivor]} again`))];
    const spare = this.spareStandby;
    if (!spare) return effects;
    this.reprotection = { survivor, name: spare.name };
    const receives = `it receives ${this.names[survivor]}'s state`;
    effects.push(trace('reprotect', spare.ready ? `${spare.name}, waiting in standby, becomes the secondary: ${receives}` : `${spare.name} becomes the secondary once it has started: ${receives}`));
    return spare.ready ? [...effects, ...this.pairUp()] : effects;
  }

  private standbyReady(): HostEffect[] {
    if (this.spareStandby) this.spareStandby.ready = true;
    if (this.reprotection) return this.pairUp();
    // Waits for the operator's click, unless nothing is left for it to protect.
    if (this.spareStandby && this.survivorAlone) return [];
    this.spareStandby = undefined;
    return [{ kind: 'terminate', side: 'standby' }];
  }

  private pairUp(): HostEffect[] {
    const reprotection = this.reprotection;
    if (!reprotection) return [];
    const { survivor, name } = reprotection;
    if (!this.live(survivor)) {
      this.reprotection = undefined;
      this.spareStandby = undefined;
      return [{ kind: 'terminate', side: 'standby' }, trace('reprotect', `abandoned: ${this.names[survivor]} is gone`)];
    }
    this.spareStandby = undefined;
    this.names.primary = this.names[survivor];
    this.names.secondary = name;
    this.serving = 'primary';
    this.fate.primary = 'alive';
    this.fate.secondary = 'alive';
    this.running.primary = true;
    this.running.secondary = true;
    delete this.status.primary;
    delete this.status.secondary;
    this.takeoverOrdered = false;
    this.confirmedAlone = false;
    this.newPair();
    return [{ kind: 'pair', survivor }];
  }

  /** A takeover or a new pair: suspicions raised before it decide nothing. */
  private newPair(): void {
    this.pair++;
    this.suspected.clear();
  }

  /** The PC in `side`'s role runs, and the host has not killed, frozen or fenced it. */
  private live(side: Side): boolean {
    return this.running[side] && this.fate[side] === 'alive';
  }

  /** Ends the worker on `side`, if it still runs; what it suspected is moot. */
  private end(side: Side): HostEffect[] {
    if (!this.running[side]) return [];
    this.running[side] = false;
    this.suspected.delete(other(side));
    return [{ kind: 'terminate', side }];
  }

  private toRunning(sides: Side[], call: CommandCall): HostEffect[] {
    return sides.filter((side) => this.running[side]).map((side) => send(side, call));
  }

  private nextName(): string {
    return `PC ${String.fromCharCode(65 + (this.machinesMade++ % 26))}`;
  }
}

function trace(action: HostAction, detail: string): HostEffect {
  return { kind: 'trace', action, detail };
}

function send(side: Side, call: CommandCall): HostEffect {
  return { kind: 'send', side, call };
}
