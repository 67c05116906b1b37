// A tab's copy of the shared host's pair, kept current by the host's updates:
// the page's views read it as they read the host itself in a one-tab run, and
// what they do goes to the host as a request.
import type { Fate } from '../../engine/host/host-core.ts';
import type { ClientAnswer, ClientOperation, ClientRequest } from '../../engine/host/ledger-client.ts';
import { HeartbeatLog, TraceLog } from '../../engine/host/trace-log.ts';
import type { SettingsChange } from '../../engine/replication/commands.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';
import type { MachineEvent, MemoryUse, SerialPort } from '../../engine/vm/machine-api.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { Transcript } from '../../engine/shared/transcript.ts';
import type { ClientModel, ClusterModel, PcModel, TrafficModel } from '../model.ts';
import type { HostAction, HostState, HostUpdate } from './host-messages.ts';

/** Sends a request to the host and resolves with its answer. */
export type HostCall = (action: HostAction) => Promise<unknown>;

/** One PC as the host reports it: its console output, and requests for the rest. */
class PcMirror implements PcModel {
  private readonly console = new Transcript();
  private readonly listeners = new Set<(events: MachineEvent[]) => void>();
  alive = true;
  readonly machine: PcModel['machine'];

  constructor(pc: number, call: HostCall) {
    this.machine = {
      sendSerial: async (port: SerialPort, data: string) => void (await call({ kind: 'send-serial', pc, port, data })),
      instructionCount: async () => (await call({ kind: 'read', pc, what: 'instructionCount' })) as number,
      textScreen: async () => (await call({ kind: 'read', pc, what: 'textScreen' })) as string[],
      memoryUse: async () => (await call({ kind: 'read', pc, what: 'memoryUse' })) as MemoryUse,
    };
  }

  append(text: string): void {
    this.console.append(text);
    const events: MachineEvent[] = [{ type: 'serial', port: 0, text }];
    for (const listener of [...this.listeners]) listener(events);
  }

  transcript(): string {
    return this.console.retained;
  }

  transcriptEnd(): number {
    return this.console.end;
  }

  subscribe(listener: (events: MachineEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the console (only it is mirrored) shows `text` at or after `from`. */
  waitForOutput(port: SerialPort, text: string, timeoutMs: number, from = 0): Promise<void> {
    if (port !== 0) return Promise.reject(new Error('a tab sees only the serial console (ttyS0)'));
    if (this.console.indexOf(text, from) !== -1) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.subscribe(() => {
        if (this.console.indexOf(text, from) === -1) return;
        stop();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no "${text}" on the console within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }
}

export class ClusterMirror implements ClusterModel {
  private current: HostState | undefined;
  private readonly log = new TraceLog();
  private beats = new HeartbeatLog();
  private readonly pcs = new Map<number, PcMirror>();
  private readonly listeners = new Set<() => void>();
  private readonly answerListeners = new Set<(answer: ClientAnswer) => void>();
  private readonly sentListeners = new Set<(request: ClientRequest) => void>();
  /** This tab's number at the host. */
  tab: number | undefined;
  /** The host started a new pair after this page had shown one (the last one was over). */
  onNewPair: () => void = () => {};
  readonly client: ClientModel;
  readonly traffic: TrafficModel;
  /** Resolves once the pair replicates; rejects with the host's reason if it could not start. */
  readonly started: Promise<void>;
  private settleStart: (err?: string) => void = () => {};

  constructor(private readonly call: HostCall) {
    this.started = new Promise<void>((resolve, reject) => {
      this.settleStart = (err) => (err === undefined ? resolve() : reject(new Error(err)));
    });
    this.started.catch(() => {});
    const state = () => this.current;
    this.client = {
      get pending() {
        return state()?.client.pending;
      },
      summary: () => this.state.client.summary,
      onAnswer: (listener) => {
        this.answerListeners.add(listener);
        return () => this.answerListeners.delete(listener);
      },
    };
    this.traffic = {
      get isAuto() {
        return state()?.trafficAuto ?? true;
      },
      setAuto: (on) => void call({ kind: 'traffic-auto', on }),
      send: (operation: ClientOperation) => void call({ kind: 'traffic-send', operation }),
      onSent: (listener) => void this.sentListeners.add(listener),
      // The host sends the requests; nothing starts here.
      start: () => {},
    };
  }

  apply(update: HostUpdate): void {
    if (update.catchUp) {
      if (this.current?.started) {
        this.onNewPair();
        return;
      }
      this.tab = update.tab;
    }
    this.current = update.state;
    for (const event of update.trace) this.log.record(event);
    for (const { side, sent } of update.heartbeats) this.beats.record(side, sent);
    for (const info of update.state.pcs) {
      const pc = this.pcs.get(info.pc) ?? new PcMirror(info.pc, this.call);
      pc.alive = info.alive;
      this.pcs.set(info.pc, pc);
    }
    for (const { pc, text } of update.serial) this.pcs.get(pc)?.append(text);
    for (const request of update.sent) for (const listener of this.sentListeners) listener(request);
    for (const answer of update.answers) for (const listener of this.answerListeners) listener(answer);
    if (update.state.startError !== undefined) this.settleStart(update.state.startError);
    else if (update.state.started) this.settleStart();
    for (const listener of [...this.listeners]) listener();
  }

  private get state(): HostState {
    if (!this.current) throw new Error('no word from the host yet');
    return this.current;
  }

  /** The PCs this tab runs (their workers end with it), by name. */
  pcsInTab(): string[] {
    return this.current?.pcs.filter((pc) => pc.tab === this.tab && pc.alive).map((pc) => pc.name) ?? [];
  }

  get primary(): PcModel | undefined {
    return this.role('primary');
  }

  get secondary(): PcModel | undefined {
    return this.role('secondary');
  }

  private role(side: Side): PcMirror | undefined {
    const pc = this.current?.roles[side];
    return pc === undefined ? undefined : this.pcs.get(pc);
  }

  get trace(): TraceEvent[] {
    return this.log.events;
  }

  get traceDropped(): number {
    return this.log.dropped;
  }

  get status(): Readonly<Partial<Record<Side, ReplicationStatus>>> {
    return this.current?.status ?? {};
  }

  get serving(): Side {
    return this.current?.serving ?? 'primary';
  }

  get fate(): Readonly<Record<Side, Fate>> {
    return this.current?.fate ?? { primary: 'alive', secondary: 'alive' };
  }

  get names(): Readonly<Record<Side, string>> {
    return this.current?.names ?? { primary: 'PC A', secondary: 'PC B' };
  }

  get config(): Readonly<ReplicationConfig> {
    return this.state.config;
  }

  get protected(): boolean {
    return this.current?.protected ?? false;
  }

  get canReprotect(): boolean {
    return this.current?.canReprotect ?? false;
  }

  get serviceLost(): string | undefined {
    return this.current?.serviceLost;
  }

  get falseFailovers(): number {
    return this.current?.falseFailovers ?? 0;
  }

  get dismissedSuspicions(): number {
    return this.current?.dismissedSuspicions ?? 0;
  }

  get spare(): { name: string; ready: boolean } | undefined {
    return this.current?.spare;
  }

  heartbeatsSent(side: Side): readonly number[] {
    return this.beats.sent(side);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.subscribe(() => {
        if (!predicate()) return;
        stop();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`not ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  async auditLedger(): Promise<string[]> {
    return (await this.call({ kind: 'audit' })) as string[];
  }

  async armReboot(): Promise<void> {
    await this.call({ kind: 'arm-reboot' });
  }

  async configure(change: SettingsChange, side?: Side): Promise<void> {
    await this.call({ kind: 'configure', change, ...(side ? { side } : {}) });
  }

  setAutoReprotect(on: boolean): void {
    void this.call({ kind: 'set-auto-reprotect', on });
  }

  async reprotect(): Promise<void> {
    await this.call({ kind: 'reprotect' });
  }

  /** The secondary retires and a fresh one starts in a tab that runs no PC yet. */
  async moveSecondary(): Promise<void> {
    await this.call({ kind: 'move-secondary' });
  }

  /** A PC waits for a tab that runs no PC to open. */
  get waitingForTab(): boolean {
    return this.current?.waitingForTab ?? false;
  }

  get spareWaitsFor(): string | undefined {
    return this.waitingForTab ? 'a tab that runs no PC (start it in a new tab)' : undefined;
  }

  checkpointNow(): void {
    void this.call({ kind: 'checkpoint-now' });
  }

  async step(): Promise<boolean> {
    return (await this.call({ kind: 'step' })) as boolean;
  }

  failover(): void {
    void this.call({ kind: 'failover' });
  }

  killPrimary(): void {
    void this.call({ kind: 'kill', side: 'primary' });
  }

  killSecondary(): void {
    void this.call({ kind: 'kill', side: 'secondary' });
  }

  freezePrimary(): void {
    void this.call({ kind: 'freeze-primary' });
  }

  cutLink(): void {
    void this.call({ kind: 'cut-link' });
  }
}
