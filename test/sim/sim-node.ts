// One simulated PC: a FakeGuest with the real ReplicationRole (drivers, cores,
// link) and the real state paths (full and delta, over the guest's memory),
// on virtual time. Like a worker, it takes the host's calls a little later and
// in order, on its one thread (SimThread), which its captures, syncs and loads
// may block; terminating it silences it at once. Its answer to the host's
// ping can be slow while it is alive.
import { waitUntil } from '../../engine/shared/wait-until.ts';
import type { ServicePc } from '../../engine/host/service.ts';
import type { ReplicationControl } from '../../engine/replication/commands.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import type { ReplicationEvent } from '../../engine/replication/events.ts';
import type { PeerPort } from '../../engine/replication/ports.ts';
import { ReplicationRole } from '../../engine/replication/replication-role.ts';
import type { MachineEvent, MemoryUse, SerialPort, StartOptions } from '../../engine/vm/machine-api.ts';
import { Transcript } from '../../engine/shared/transcript.ts';
import { REBOOT_GUEST } from '../../engine/vm/guest-protocol.ts';
import { machineStatePaths } from '../../engine/worker/state-paths.ts';
import type { StatePaths } from '../../engine/replication/state-path.ts';
import { FakeGuest, SIM_RAM_BYTES, type GuestTraits, type StateRegistry } from './fake-guest.ts';
import { seededRandom, type SimScheduler } from './scheduler.ts';
import { SimThread } from './sim-thread.ts';

const never = <T>() => new Promise<T>(() => {});
/** The simulated PCs' booted snapshot, as the manifest's SHA-256 would name it. */
const SIM_SNAPSHOT = '5'.repeat(64);

/**
 * `target` with the members in `overrides` replaced; everything else is the
 * target's own (its methods bound to it, so their writes land there), a member
 * added to the interface later included.
 */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get: (object, key) => {
      if (key in overrides) return overrides[key as keyof T];
      const value: unknown = Reflect.get(object, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/**
 * The real state paths, on the PC's thread: each load takes `loadMs` of
 * virtual time first (waiting, the thread free), and each capture, initial
 * sync, check, load and copy kept before a run of compare mode blocks the
 * thread for up to `blockMs` (drawn by `draw`).
 */
function threadPaths(paths: StatePaths, loadMs: number, blockMs: number, thread: SimThread, draw: () => number): StatePaths {
  const waited = (ms: number) => new Promise<void>((resolve) => thread.after(ms, resolve));
  const block = () => thread.block(Math.floor(draw() * (blockMs + 1)));
  if (loadMs <= 0 && blockMs <= 0) return paths;
  return {
    source: (mode, options) => {
      const source = paths.source(mode, options);
      return overriding(source, {
        initialSync: (peer) => (block(), source.initialSync(peer)),
        capture: (checkpoint) => (block(), source.capture(checkpoint)),
      });
    },
    adoptBase: (image, standby) => paths.adoptBase?.(image, standby),
    sink: (verify) => {
      const sink = paths.sink(verify);
      return overriding(sink, {
        stage: (header, payload, checkpoint) => (block(), sink.stage(header, payload, checkpoint)),
        load: (diverged) => waited(loadMs).then(() => (block(), sink.load(diverged))),
        beforeRun: () => (block(), sink.beforeRun()),
      });
    },
  };
}
const encoder = new TextEncoder();

export class SimNode implements ServicePc {
  alive = true;
  readonly guest: FakeGuest;
  readonly replication: ReplicationControl;
  /** Its worker's one thread: the role, the guest, the host's calls and its end of the link run there. */
  readonly thread: SimThread;
  /** How long the host's ping waits for an answer from this PC (it is busy, not dead). */
  pingDelayMs = 0;
  private readonly role: ReplicationRole;
  private readonly paths: StatePaths;
  /** Calls into a worker arrive in order: the last delivery time. */
  private lastDelivery = 0;
  /** Parts played so far (the host asked for): a PC that played one may wait before it leads a new pair (leadDelayMs). */
  private roles = 0;
  private readonly leadDelayMs: number;
  /** armReboot() reached this PC. */
  rebootArmed = false;
  /** Hung: alive, silent for good (see hang). */
  hung = false;
  /**
   * The PC's console (ttyS0), as the service reads it: a simulated guest has
   * no shell, so it only echoes what is typed; its readings are its own.
   */
  private readonly console = new Transcript();
  private readonly consoleListeners = new Set<(events: MachineEvent[]) => void>();
  readonly machine = {
    sendSerial: (port: SerialPort, data: string): Promise<void> =>
      this.deliver(() => (port === 0 ? this.typed(data) : this.guest.receive(encoder.encode(data), 0))),
    instructionCount: (): Promise<number> => this.deliver(() => this.guest.clientInputConsumed()),
    textScreen: (): Promise<string[]> => this.deliver(() => []),
    memoryUse: (): Promise<MemoryUse> => this.deliver(() => ({ wasmBytes: SIM_RAM_BYTES, ramBytes: SIM_RAM_BYTES })),
  };

  subscribe(listener: (events: MachineEvent[]) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  transcript(port: SerialPort): string {
    return port === 0 ? this.console.retained : '';
  }

  transcriptEnd(port: SerialPort): number {
    return port === 0 ? this.console.end : 0;
  }

  /** Resolves once the console shows `text` at or after `from`; never on another port. */
  waitForOutput(port: SerialPort, text: string, timeoutMs: number, from = 0): Promise<void> {
    return waitUntil(
      () => port === 0 && this.console.indexOf(text, from) !== -1,
      (check) => this.subscribe(check),
      this.scheduler,
      timeoutMs,
      () => new Error(`no "${text}" on serial${port} within ${timeoutMs} ms`),
    );
  }

  /** What is typed on the console: echoed; the guest's reboot command reboots it, and its ledger says what it read back. */
  private typed(text: string): void {
    this.print(text);
    if (text.trim() !== REBOOT_GUEST || !this.guest.reboot()) return;
    const { records, total } = this.guest.ledger;
    this.print(`ledger: ready (${records} replies from the journal, total ${total})\r\n`);
  }

  private print(text: string): void {
    this.console.append(text);
    for (const listener of [...this.consoleListeners]) listener([{ type: 'serial', port: 0, text }]);
  }
  private readonly bootMs: number;

  constructor(
    private readonly scheduler: SimScheduler,
    registry: StateRegistry,
    name: string,
    traits: GuestTraits,
    private readonly latency: () => number,
  ) {
    this.bootMs = traits.bootMs ?? 0;
    this.thread = new SimThread(scheduler);
    this.guest = new FakeGuest(this.thread, registry, name, traits, seededRandom);
    this.leadDelayMs = traits.leadDelayMs ?? 0;
    const blocks = seededRandom([...name].reduce((sum, c) => sum * 31 + c.charCodeAt(0), traits.randomSeed));
    this.paths = threadPaths(machineStatePaths(this.guest, SIM_RAM_BYTES), traits.loadMs, traits.blockMs ?? 0, this.thread, blocks);
    this.role = new ReplicationRole(this.guest, this.thread, this.paths);
    const call = <T>(fn: () => T): Promise<T> => (this.alive && !this.hung ? this.deliver(fn) : never<T>());
    // Every command of the role, delivered like a message to a worker; the
    // ping answers as slowly as the PC is busy. A Proxy, so a command added
    // to the role reaches simulated PCs with no change here.
    const commands = this.role as unknown as Record<string, (...args: unknown[]) => unknown>;
    const answer = () => this.role.ping().then(() => this.after(this.pingDelayMs));
    // A blocked thread reads the ping once it is free.
    const ping = () =>
      !this.alive || this.hung ? never<true>() : this.thread.busy ? new Promise<void>((free) => this.thread.run(free)).then(answer) : answer();
    this.replication = new Proxy({} as ReplicationControl, {
      get: (_, name: string) => (name === 'ping' ? ping : (...args: unknown[]) => call(() => commands[name]?.apply(this.role, args))),
    });
  }

  /**
   * Every PC is built from the same booted snapshot, as a worker is, and keeps
   * it as the shared base; starting takes `bootMs`.
   */
  async start(options: StartOptions): Promise<void> {
    await this.after(this.bootMs);
    if (!this.alive || this.hung) return never();
    this.guest.buildFromSnapshot();
    this.paths.adoptBase?.(SIM_SNAPSHOT, options.mode === 'standby');
    if (options.mode !== 'standby') await this.guest.run();
  }

  async startReplication(
    role: 'primary' | 'secondary',
    pair: number,
    port: MessagePort,
    config: ReplicationConfig,
    listener: (events: ReplicationEvent[]) => void,
  ): Promise<void> {
    const guarded = (events: ReplicationEvent[]) => {
      if (this.alive && !this.hung) listener(events);
    };
    const peer = this.thread.port(port as unknown as PeerPort);
    const leadLater = role === 'primary' && this.roles > 0 ? this.leadDelayMs : 0;
    await this.deliver(() => {
      if (role === 'secondary') return this.role.startSecondary(pair, peer, config, guarded);
      if (leadLater === 0) return this.role.startPrimary(pair, peer, config, guarded);
      // Commands for the new pair that arrive meanwhile must wait for it (ReplicationRole keeps them).
      return new Promise<void>((resolve) => this.scheduler.after(leadLater, resolve)).then(() => this.role.startPrimary(pair, peer, config, guarded));
    });
    this.roles++;
  }

  /** A simulated guest reboots with nothing to fetch: arming only notes it was asked. */
  async armReboot(): Promise<void> {
    await this.deliver(() => (this.rebootArmed = true));
  }

  async sendClient(line: string | Uint8Array, at: number): Promise<void> {
    const bytes = typeof line === 'string' ? encoder.encode(line) : line;
    await this.deliver(() => this.guest.receive(bytes, at));
  }

  /**
   * The worker hangs (an endless loop, say): it answers nothing, runs no
   * call, sends and reads nothing on its link, and its VM stops; its worker
   * and its end of the channel stay. The host is not told: only the silence
   * gives it away.
   */
  hang(): void {
    if (!this.alive || this.hung) return;
    this.hung = true;
    this.role.freeze();
  }

  /**
   * The tab that runs this PC closes: the worker is gone, but in Chromium
   * its end of the channel does not say so (no 'close' event): the peer
   * hears only silence. Whether the host hears of it is the tab's doing.
   */
  vanish(): void {
    if (!this.alive) return;
    this.hang();
    this.alive = false;
    this.guest.kill();
  }

  terminate(): void {
    if (!this.alive) return;
    this.alive = false;
    this.role.dispose();
    // Disposing the role closes its end of the channel: the peer hears of it, as when a worker ends.
    this.guest.kill();
  }

  /** Runs `fn` in this "worker" after the latency of a message to it, in the order of the calls. */
  private deliver<T>(fn: () => T): Promise<T> {
    const at = Math.max(this.scheduler.now() + this.latency(), this.lastDelivery);
    this.lastDelivery = at;
    return new Promise<T>((resolve, reject) => {
      this.scheduler.after(at - this.scheduler.now(), () =>
        this.thread.run(() => {
          if (!this.alive || this.hung) return;
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        }),
      );
    });
  }

  private after(ms: number): Promise<true> {
    return ms <= 0 ? Promise.resolve(true) : new Promise((resolve) => this.scheduler.after(ms, () => resolve(true)));
  }
}
