// The host's policy for a replicated pair, as a pure state machine: which PC
// serves the client, when a PC is fenced, when a primary out of COLO may
// release what it holds, who wins when both sides claim to be primary, and
// when a new pair may start. Inputs arrive as data (the workers' statuses and
// released lines, the operator's commands, the answer to a ping), effects leave
// as data. It owns no timers, workers or ports: engine/host/cluster.ts wires it.
import type { Side } from '../protocol/messages.ts';
import type { HostAction } from '../protocol/trace.ts';
import type { CommandCall, SettingsChange } from '../replication/commands.ts';
import type { GateConfig, ReplicationConfig } from '../replication/config.ts';
import type { ReplicationStatus } from '../replication/events.ts';

/** Host-side facts the workers cannot report: who was killed, frozen or fenced. */
export type Fate = 'alive' | 'killed' | 'frozen' | 'fenced';

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
  /** The answer to `ping-primary`: did the primary answer in time? */
  | { kind: 'ping-answered'; answered: boolean }
  | { kind: 'kill'; side: Side }
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
  /** Ask the primary whether it still answers; reply with `ping-answered` after at most `timeoutMs`. */
  | { kind: 'ping-primary'; timeoutMs: number }
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
  /** How long the host waits for a primary's answer before it counts as hung. */
  pingTimeoutMs: number;
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
  /** Deciding between two sides that both claim to be primary (the ping is out). */
  arbitrating = false;
  /**
   * Takeovers by a secondary while the primary still answered the host and
   * nobody had cut the link: heartbeats that came too late, not a failure.
   */
  falseFailovers = 0;
  /** The operator cut this pair's link (a takeover it causes is a real one). */
  private linkCut = false;
  private arbitratingFrom = 0;
  private heldForArbitration: string[] = [];
  private operatorFailover = false;
  private confirmedAlone = false;
  private autoReprotect = false;
  /** A re-protection under way: who survives, and the new PC's name. */
  private reprotection: { survivor: Side; name: string } | undefined;
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

  /** After a failover, or with the secondary gone: a fresh secondary may start from the survivor's full state. */
  get canReprotect(): boolean {
    const survivor = this.serving;
    const ended = survivor === 'secondary' || this.status.primary?.phase === 'exited';
    // While the host arbitrates it does not yet know which PC survives.
    return ended && this.running[survivor] && this.fate[survivor] === 'alive' && !this.reprotection && !this.arbitrating;
  }

  /** Why no PC can serve the client any more, or undefined while one can (or may yet, by a failover). */
  get serviceLost(): string | undefined {
    if (this.arbitrating) return undefined;
    const side = this.serving;
    if (this.running[side] && this.fate[side] === 'alive') return undefined;
    // A secondary can take over once it holds a checkpoint, or is loading one.
    const secondary = this.status.secondary;
    const canTakeOver = secondary !== undefined && secondary.phase !== 'exited' && (secondary.committed > 0 || secondary.phase === 'loading');
    if (side === 'primary' && this.running.secondary && this.fate.secondary === 'alive' && canTakeOver) return undefined;
    const why = side === 'primary' && secondary?.phase === 'exited' ? `; ${this.names.secondary} left COLO: ${secondary.exitDetail}` : '';
    return `${this.names[side]}, which served the client, is ${this.fate[side] === 'alive' ? 'gone' : this.fate[side]} and no PC can take over${why}`;
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
    return [...effects, ...this.maybeAutoReprotect()];
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
        if (input.side === 'secondary' && this.arbitrating) {
          this.heldForArbitration.push(...input.lines);
          return [];
        }
        // Only the serving PC speaks for the service.
        return input.side === this.serving ? [{ kind: 'deliver', side: input.side, lines: input.lines }] : [];
      case 'released-before':
        // A survivor's output released by its previous role is still real output of the PC that serves.
        return [{ kind: 'deliver', side: this.serving, lines: input.lines }];
      case 'ping-answered':
        return this.concludeArbitration(input.answered);
      case 'kill':
        return input.side === 'primary' ? this.killPrimary() : this.killSecondary();
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
    if (side === 'secondary' && status.role === 'primary' && this.serving === 'primary' && !this.arbitrating) {
      effects.push(...this.arbitrate(status.committed));
    }
    if (side === 'secondary' && status.phase === 'exited') this.operatorFailover = false;
    return [...effects, ...this.settleAfterExit()];
  }

  // The secondary has taken over. If the primary is dead, killed or hung, the
  // secondary serves. If the primary still answers the host, it was the link
  // that failed: the primary may already have released output the secondary's
  // checkpoint does not cover, so the secondary is the one fenced.
  private arbitrate(from: number): HostEffect[] {
    this.arbitrating = true;
    this.arbitratingFrom = from;
    // An operator's failover, or a primary known dead or hung, needs no ping.
    if (this.operatorFailover || this.fate.primary !== 'alive' || !this.running.primary) return this.concludeArbitration(false);
    return [{ kind: 'ping-primary', timeoutMs: this.options.pingTimeoutMs }];
  }

  private concludeArbitration(primaryAnswers: boolean): HostEffect[] {
    if (!this.arbitrating) return [];
    this.arbitrating = false;
    const held = this.heldForArbitration;
    this.heldForArbitration = [];
    // The secondary may have died while the host waited for the primary: then
    // it cannot serve whatever the ping said, and the primary, if alive, stays.
    const secondaryGone = !this.running.secondary || this.fate.secondary !== 'alive';
    if (secondaryGone && !primaryAnswers) {
      return [trace('arbitrate', 'the secondary that took over is gone too: the primary stays, if it can serve'), ...this.settleAfterExit()];
    }
    if (primaryAnswers) {
      const falseAlarm = !this.linkCut;
      if (falseAlarm) this.falseFailovers++;
      return [
        trace('arbitrate', 'the primary still answers the host: the link failed, not the primary; the secondary is fenced'),
        ...(falseAlarm ? [trace('false-failover', `nobody cut the link: the secondary missed the primary's heartbeats while both ran (${this.falseFailovers} so far)`)] : []),
        ...this.retireSecondary('fenced'),
        ...this.settleAfterExit(),
      ];
    }
    const effects: HostEffect[] = [];
    if (this.running.primary) {
      effects.push(trace('fence', 'old primary terminated after takeover, so it can never speak again'));
      if (this.fate.primary === 'alive' || this.fate.primary === 'frozen') this.fate.primary = 'fenced';
      effects.push(...this.end('primary'));
    }
    this.serving = 'secondary';
    effects.push(trace('primary-changed', `secondary took over from checkpoint ${this.arbitratingFrom}`));
    effects.push({ kind: 'deliver', side: 'secondary', lines: held }, { kind: 'retry-client' });
    return effects;
  }

  // A primary that left COLO holds its output until the host is sure no
  // secondary can take over: the host fences the secondary, then lets it go.
  private settleAfterExit(): HostEffect[] {
    const primary = this.status.primary;
    if (!primary || primary.phase !== 'exited' || this.confirmedAlone) return [];
    if (this.serving !== 'primary' || this.arbitrating || this.operatorFailover) return [];
    if (!this.running.primary || this.fate.primary !== 'alive') return [];
    const effects: HostEffect[] = [];
    if (this.running.secondary && this.fate.secondary === 'alive') {
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

  // An operator failover waits for the secondary to answer it; a secondary
  // that can no longer answer must not keep the primary waiting for it.
  private retireSecondary(fate: 'killed' | 'fenced'): HostEffect[] {
    this.fate.secondary = fate;
    this.operatorFailover = false;
    return this.end('secondary');
  }

  private failover(): HostEffect[] {
    // While the host arbitrates, the secondary has already taken over: the host decides, not this command.
    if (!this.running.secondary || this.fate.secondary !== 'alive' || this.serving !== 'primary' || this.arbitrating) return [];
    this.operatorFailover = true;
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

  private reprotect(): HostEffect[] {
    const survivor = this.serving;
    const name = this.nextName();
    this.reprotection = { survivor, name };
    return [
      ...this.end(other(survivor)),
      trace('reprotect', `${name} starts in standby; it will receive ${this.names[survivor]}'s full state`),
      { kind: 'start-standby', name },
    ];
  }

  private standbyReady(): HostEffect[] {
    const reprotection = this.reprotection;
    if (!reprotection) return [{ kind: 'terminate', side: 'standby' }];
    const { survivor, name } = reprotection;
    if (!this.running[survivor] || this.fate[survivor] !== 'alive') {
      this.reprotection = undefined;
      return [{ kind: 'terminate', side: 'standby' }, trace('reprotect', `abandoned: ${this.names[survivor]} is gone`)];
    }
    this.names.primary = this.names[survivor];
    this.names.secondary = name;
    this.serving = 'primary';
    this.fate.primary = 'alive';
    this.fate.secondary = 'alive';
    this.running.primary = true;
    this.running.secondary = true;
    delete this.status.primary;
    delete this.status.secondary;
    this.operatorFailover = false;
    this.confirmedAlone = false;
    return [{ kind: 'pair', survivor }];
  }

  /** Ends the worker on `side`, if it still runs. */
  private end(side: Side): HostEffect[] {
    if (!this.running[side]) return [];
    this.running[side] = false;
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
