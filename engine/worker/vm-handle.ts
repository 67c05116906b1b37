// The host's view of one VM worker: commands over comlink, a running transcript
// of both serial ports, and awaitable conditions on what the guest printed.
import * as Comlink from 'comlink';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationEvent } from '../replication/events.ts';
import type { MachineApi, MachineEvent, SerialPort, StartOptions, StartReport } from '../vm/machine-api.ts';
import { ledgerRequest } from '../vm/guest-protocol.ts';
import type { ClusterNode, ReplicationCommands, ReplicationControl } from '../replication/commands.ts';
import { Transcript } from '../shared/transcript.ts';
import type { WorkerApi } from './worker-main.ts';
import type { SharedFiles } from './shared-asset-fetch.ts';

export interface WorkerLike {
  terminate(): unknown;
}

interface Waiter {
  port: SerialPort;
  test: (output: Transcript) => boolean;
  resolve: () => void;
}

export class VmHandle implements ClusterNode {
  private readonly transcripts: [Transcript, Transcript] = [new Transcript(), new Transcript()];
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(events: MachineEvent[]) => void>();
  private terminated = false;
  /** Rejects once the worker is ended: a call it would never answer fails instead of waiting forever. */
  private readonly ended: Promise<never>;
  private endCalls: (err: Error) => void = () => {};
  /** When the worker was made: a PC's start, as the host waits for it, runs from here. */
  private readonly spawnedAt = performance.now();

  readonly machine: Comlink.Remote<MachineApi>;
  readonly replication: ReplicationControl;
  private readonly role: Comlink.Remote<ReplicationCommands>;

  constructor(
    private readonly remote: Comlink.Remote<WorkerApi>,
    private readonly worker: WorkerLike,
    /** Files fetched once for all PCs, a copy for this one (the browser); without it the worker reads every file itself. */
    private readonly filesFor?: (options: StartOptions) => Promise<SharedFiles>,
  ) {
    // comlink types a nested property as a promise of its value, but the
    // property proxy forwards calls, which is all these are used for.
    this.machine = remote.machine as unknown as Comlink.Remote<MachineApi>;
    this.role = remote.replication as unknown as Comlink.Remote<ReplicationCommands>;
    this.replication = this.role;
    this.ended = new Promise<never>((_, reject) => (this.endCalls = reject));
    this.ended.catch(() => {});
  }

  /** `call()`, or its failure once the worker is ended (before the call, or while it waits). */
  private unlessEnded<T>(call: () => Promise<T>): Promise<T> {
    return this.terminated ? this.ended : Promise.race([call(), this.ended]);
  }

  /** Starts the PC; `colo:pc-start` in the performance timeline says how long it took from the worker's making, and where the time went. */
  async start(options: StartOptions): Promise<StartReport> {
    const { files, arriving } = (await this.filesFor?.(options)) ?? { files: {}, arriving: {} };
    const filesAt = performance.now();
    const report = await this.unlessEnded(() =>
      this.machine.start(
        Comlink.transfer({ ...options, files, arriving }, [...Object.values(files), ...Object.values(arriving)]),
        Comlink.proxy((events: MachineEvent[]) => this.onEvents(events)),
      ),
    );
    performance.measure('colo:pc-start', { start: this.spawnedAt, detail: { ...report, sharedFilesMs: filesAt - this.spawnedAt } });
    return report;
  }

  /** Gives this VM its replication role; `port` moves into the worker. */
  async startReplication(
    role: 'primary' | 'secondary',
    pair: number,
    port: MessagePort,
    config: ReplicationConfig,
    listener: (events: ReplicationEvent[]) => void,
  ): Promise<void> {
    const args = [pair, Comlink.transfer(port, [port]), config, Comlink.proxy(listener)] as const;
    await this.unlessEnded(() => (role === 'primary' ? this.role.startPrimary(...args) : this.role.startSecondary(...args)));
  }

  armReboot(): Promise<void> {
    return this.unlessEnded(() => this.machine.armReboot());
  }

  /** What the guest wrote to a serial port (the most recent 128 KiB or more). */
  transcript(port: SerialPort): string {
    return this.transcripts[port].retained;
  }

  /** Position after all output so far, for `waitForOutput(…, from)`. */
  transcriptEnd(port: SerialPort): number {
    return this.transcripts[port].end;
  }

  onEvents(events: MachineEvent[]): void {
    for (const event of events) {
      if (event.type === 'serial') this.transcripts[event.port].append(event.text);
    }
    for (const waiter of this.waiters) {
      if (waiter.test(this.transcripts[waiter.port])) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    for (const listener of this.listeners) listener(events);
  }

  subscribe(listener: (events: MachineEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves once the port's output (from position `from` on) contains `text`. */
  waitForOutput(port: SerialPort, text: string, timeoutMs: number, from = 0): Promise<void> {
    const test = (all: Transcript) => all.indexOf(text, from) !== -1;
    if (test(this.transcripts[port])) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { port, test, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const tail = this.transcripts[port].retained.slice(-300);
        reject(new Error(`no "${text}" on serial${port} within ${timeoutMs} ms; last output: ${JSON.stringify(tail)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Runs a shell command on ttyS0 and returns what it printed. */
  async shell(command: string, timeoutMs = 20_000): Promise<string> {
    const marker = `__done_${Math.random().toString(36).slice(2)}__`;
    const from = this.transcripts[0].end;
    await this.machine.sendSerial(0, `${command}; echo ${marker.slice(0, 6)}""${marker.slice(6)}\n`);
    await this.waitForOutput(0, marker + '\r\n', timeoutMs, from);
    const out = this.transcripts[0].slice(from);
    const start = out.indexOf('\n') + 1;
    return out.slice(start, out.indexOf(marker, start)).replace(/\r\n/g, '\n');
  }

  /** Sends one ledger request on ttyS1 and returns the reply line for its id. */
  async ledger(id: string, operation: string, timeoutMs = 20_000): Promise<string> {
    const from = this.transcripts[1].end;
    await this.machine.sendSerial(1, ledgerRequest(id, operation));
    await this.waitForOutput(1, `${id} `, timeoutMs, from);
    const at = this.transcripts[1].indexOf(`${id} `, from);
    await this.waitForOutput(1, '\n', timeoutMs, at);
    return this.transcripts[1].slice(at, this.transcripts[1].indexOf('\n', at)).trim();
  }

  /** The VM's full state, moved out of the worker without a copy. */
  saveState(): Promise<ArrayBuffer> {
    return this.machine.saveState();
  }

  /** Moves `state` into the worker (the caller's buffer is detached). */
  restoreState(state: ArrayBuffer): Promise<void> {
    return this.machine.restoreState(Comlink.transfer(state, [state]));
  }

  get alive(): boolean {
    return !this.terminated;
  }

  /** The worker's JavaScript heap in use (bytes). */
  heapUsed(): Promise<number> {
    return this.remote.heapUsed();
  }

  sendClient(data: string | Uint8Array, at?: number): Promise<void> {
    return this.machine.sendSerial(1, data, at);
  }

  /** Kills the worker at once, as a crash would; nothing is awaited. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.remote[Comlink.releaseProxy]();
    void this.worker.terminate();
    this.endCalls(new Error('the host ended its worker'));
  }
}
