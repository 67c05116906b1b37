// A stand-in for a v86 guest running the ledger, as close to the real one as
// the replication code can tell:
// - it reads its client port and writes replies a few bytes per tick, so a
//   stop can split a request or a reply, and keeps the client's stream in the
//   real ClientInputLog, refilling its port on a load the way GuestMachine does
//   (unread input lives outside the state, as in v86's UART);
// - its state lives in "RAM" inside a WebAssembly memory plus a small device
//   block, so the real delta path (kernels, format, apply with undo) runs
//   against it, and v86's header format for the full path;
// - like the write-tracking v86 build, it can mark each page it writes in the
//   delta path's map; a full restore writes behind the tracking's back, as
//   v86's restore_state does, and says so;
// - the ledger journals every reply it gives to its disk before the reply
//   goes out, 128 bytes a record, as the real one does: the disk is v86's
//   own kind of buffer behind the engine's real wrapper of it, so its pages
//   travel in the delta's disk part, whole in a full state, and a compare-mode
//   secondary's own records are put back before a checkpoint applies;
// - rand and time differ between two guests, as on real PCs;
// - it can refuse a state that arrived whole and verified, as v86 may.
// Every state a guest captures (RAM, devices and disk) is registered; a load
// that produces any other state is a violation.
import type { FlatDevices } from '../../engine/checkpoint/device-state.ts';
import type { MachineStateAccess, WriteTracker } from '../../engine/checkpoint/machine-state.ts';
import { ClientInputLog, type ReceivingPort } from '../../engine/vm/client-input-log.ts';
import type { SerialPort } from '../../engine/vm/machine-api.ts';
import { V86_STATE_FORMAT_VERSION, V86_STATE_MAGIC } from '../../engine/vm/state-header.ts';
import type { MachineWithState } from '../../engine/worker/state-paths.ts';
import { openDisk, SyncBuffer } from '../support/sync-buffer.ts';
import type { Clock } from '../../engine/replication/ports.ts';

export const SIM_RAM_BYTES = 128 * 1024;
/** 512 journal records: a long schedule fills it, and the ledger goes on from memory, as the real one does. */
export const SIM_DISK_BYTES = 16 * 4096;
const RECORD_BYTES = 128;
const TICK_MS = 2;
const CLIENT_LOG_BYTES = 4096;

/** The ledger as the guest's memory holds it. */
export interface LedgerState {
  total: number;
  replies: Record<string, string>;
  /** The request line read so far. */
  line: string;
  /** Reply bytes not yet written to the port. */
  out: string;
  /** Journal records written to the disk. */
  records: number;
}

/** How a guest behaves; chosen per guest by the schedule. */
export interface GuestTraits {
  /** Bytes read or written per tick. */
  bytesPerTick: number;
  /** This guest's clock, against the simulation's. */
  clockSkewMs: number;
  /** Seed of its randomness ($RANDOM). */
  randomSeed: number;
  /** Probability that a load is refused although the state arrived whole. */
  refuseLoads: number;
  /** Longest time a stop takes: like v86, the guest runs on to the end of its time slice. */
  stopMs: number;
  /** How long starting the PC takes (the simulated worker's boot; default 0). */
  bootMs?: number;
  /** How long a survivor told to lead a new pair waits before it starts that part (default 0; see schedule.ts). */
  leadDelayMs?: number;
  /** How long loading a checkpoint takes (v86 takes milliseconds; a busy worker, more). */
  loadMs: number;
  /** How much of the client's stream is kept for refills. */
  inputLogBytes?: number;
  /** Marks the pages it writes, as the write-tracking v86 build does. */
  tracksWrites?: boolean;
  /** The longest a capture, an initial sync, a check or a load blocks the PC's only thread (default 0; see SimThread). */
  blockMs?: number;
}

/** The guest's write marks: where the map is, and how often RAM was written behind them. */
export class FakeTracker implements WriteTracker {
  map: number | undefined;
  untrackedWrites = 0;

  attach(map: number): void {
    if (map !== this.map) this.untrackedWrites++;
    this.map = map;
  }

  wroteBehind(): void {
    this.untrackedWrites++;
  }

  /** This guest marks every write, armed or not. */
  rearm(): void {}
}

/** Every state any guest captured: a load that ends in anything else is a violation. */
export class StateRegistry {
  private readonly captured = new Set<string>();
  readonly violations: string[] = [];

  record(digest: string): void {
    this.captured.add(digest);
  }

  checkLoad(digest: string, who: string): void {
    if (!this.captured.has(digest)) this.violations.push(`${who} loaded a state no guest captured: ${digest.slice(0, 160)}`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FakeGuest implements MachineWithState {
  running = false;
  /** Fault: stop() never returns, as a wedged emulator would. */
  hangOnStop = false;
  private state: LedgerState = { total: 0, replies: {}, line: '', out: '', records: 0 };
  /** The guest's disk, as v86 holds one, and the engine's view of it. */
  private readonly sync = new SyncBuffer(SIM_DISK_BYTES);
  private readonly disk = openDisk(this.sync).disk;
  private ticks = 0;
  private readonly uart: ReceivingPort;
  private readonly log: ClientInputLog;
  private readonly memory = new WebAssembly.Memory({ initial: SIM_RAM_BYTES / 65536 });
  /** The device block: a tick counter and the length of the state in RAM. */
  private readonly registers = new Uint32Array(2);
  private readonly taps = new Set<(text: string) => void>();
  private readonly random: () => number;
  private readonly refusalRandom: () => number;
  private tickPending = false;
  /** The state's JSON as last written to RAM or read from it. */
  private flushed = '';
  private dead = false;
  /** A refused load is followed by the delta path's roll-back, which must succeed. */
  private justRefused = false;
  loadsRefused = 0;
  /** Probability that a load is refused although the state arrived whole (0 once the world heals). */
  refuseLoads: number;

  constructor(
    private readonly scheduler: Clock,
    private readonly registry: StateRegistry,
    readonly name: string,
    private readonly traits: GuestTraits,
    random: (seed: number) => () => number,
  ) {
    this.refuseLoads = traits.refuseLoads;
    this.log = new ClientInputLog(traits.inputLogBytes ?? CLIENT_LOG_BYTES);
    this.random = random(traits.randomSeed);
    this.refusalRandom = random(traits.randomSeed ^ 0x5bd1e995);
    const input: number[] = [];
    this.uart = { input, data_received: (byte) => input.push(byte) };
  }

  // --- ReplicatedVm

  async run(): Promise<void> {
    this.running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    if (this.hangOnStop) return new Promise<void>(() => {});
    await this.slice();
    this.running = false;
    this.flush();
  }

  async saveState(): Promise<ArrayBuffer> {
    this.flush();
    // v86's save_state carries the disk whole.
    const disk = Buffer.from(this.disk.contents()).toString('base64');
    const json = encoder.encode(JSON.stringify({ state: [SIM_RAM_BYTES], buffer_infos: [], guest: this.snapshot(), disk }));
    this.registry.record(this.digest());
    const total = 16 + ((json.length + 3) & ~3);
    const buffer = new ArrayBuffer(total);
    const view = new DataView(buffer);
    view.setUint32(0, V86_STATE_MAGIC, true);
    view.setInt32(4, V86_STATE_FORMAT_VERSION, true);
    view.setInt32(8, total, true);
    view.setInt32(12, json.length, true);
    new Uint8Array(buffer, 16).set(json);
    return buffer;
  }

  async restoreState(buffer: ArrayBuffer): Promise<void> {
    this.refuseMaybe();
    const length = new DataView(buffer).getInt32(12, true);
    const { guest, disk } = JSON.parse(decoder.decode(new Uint8Array(buffer, 16, length))) as { guest: { state: LedgerState; ticks: number }; disk: string };
    this.sync.set_state([SIM_DISK_BYTES, new Uint8Array(Buffer.from(disk, 'base64'))]);
    this.state = guest.state;
    this.ticks = guest.ticks;
    // v86's restore_state writes RAM where the tracking does not see it.
    this.tracker.untrackedWrites++;
    this.flush(false);
    this.registry.checkLoad(this.digest(), this.name);
  }

  clientInputConsumed(): number {
    return this.log.end - this.uart.input.length;
  }

  /** As v86 restoring the booted snapshot: the ledger's first state in RAM, written where no marks see it, as every PC built from it has it. */
  buildFromSnapshot(): void {
    this.flush(false);
    this.tracker.wroteBehind();
    this.registry.record(this.digest());
  }

  replayClientInput(from: number): boolean {
    return this.log.refill(this.uart, from);
  }

  onSerialOutput(port: SerialPort, listener: (text: string) => void): () => void {
    if (port !== 1) return () => {};
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  // --- the delta path's access

  stateAccess(): MachineStateAccess {
    return {
      memory: this.memory,
      ramOffset: 0,
      ramBytes: SIM_RAM_BYTES,
      readDevices: () => this.readDevices(),
      writeDevices: (tree) => this.writeDevices(tree),
      writes: this.traits.tracksWrites ? this.tracker : { unavailable: 'this simulated guest does not track its writes' },
      disk: this.disk,
    };
  }

  private readonly tracker = new FakeTracker();

  // --- the host's side

  /** Client bytes arriving on the port, at their position in the client's stream. */
  receive(bytes: Uint8Array, at: number): void {
    this.log.append(bytes, at);
    for (const byte of bytes) this.uart.data_received(byte);
    this.wake();
  }

  /** What the ledger holds, for the audit. */
  get ledger(): { storedReply(id: string): string | undefined; total: number; records: number } {
    const { replies, total, records } = this.state;
    return { storedReply: (id) => replies[id], total, records };
  }

  kill(): void {
    this.dead = true;
    this.running = false;
  }

  /**
   * The guest reboots, as `reboot` in its shell, once the reply it is writing
   * is out: RAM starts afresh (written
   * where no marks see it), unread input is gone, and the ledger reads its
   * total and every reply back from the journal on its disk. Refused (false)
   * with a full journal: replies kept in memory only would be lost, as on the
   * real guest, which is the guest's limit, not the engine's.
   */
  reboot(): boolean {
    if (this.dead || this.state.records >= SIM_DISK_BYTES / RECORD_BYTES) return false;
    const replies: Record<string, string> = {};
    let total = 0;
    const journal = decoder.decode(this.disk.contents().subarray(0, this.state.records * RECORD_BYTES));
    for (const record of journal.split('\n')) {
      const reply = record.trimEnd();
      if (reply === '') continue;
      const [id = '', verdict, amount] = reply.split(' ');
      replies[id] = reply;
      if (verdict === 'ok') total = Number(amount);
    }
    // A reply being written finishes first (the line protocol has no way to take half of one back).
    this.state = { total, replies, line: '', out: this.state.out, records: this.state.records };
    this.uart.input.length = 0;
    this.tracker.wroteBehind();
    return true;
  }

  // --- the guest itself

  /** The rest of a time slice: up to stopMs of virtual time. */
  private slice(): Promise<void> {
    const ms = Math.floor(this.random() * (this.traits.stopMs + 1));
    return ms === 0 ? Promise.resolve() : new Promise((resolve) => this.scheduler.after(ms, resolve));
  }

  private wake(): void {
    if (this.tickPending || this.dead || !this.running || !this.hasWork()) return;
    this.tickPending = true;
    this.scheduler.after(TICK_MS, () => {
      this.tickPending = false;
      this.tick();
      this.wake();
    });
  }

  private hasWork(): boolean {
    return this.state.out.length > 0 || this.uart.input.length > 0;
  }

  // A shell loop: write what is left of the reply, else read towards the next newline.
  private tick(): void {
    if (!this.running || this.dead) return;
    this.ticks++;
    const budget = this.traits.bytesPerTick;
    if (this.state.out.length > 0) {
      const text = this.state.out.slice(0, budget);
      this.state.out = this.state.out.slice(budget);
      for (const tap of this.taps) tap(text);
      return;
    }
    for (let n = 0; n < budget && this.uart.input.length > 0; n++) {
      const byte = this.uart.input.shift() as number;
      if (byte !== 10) {
        this.state.line += String.fromCharCode(byte);
        continue;
      }
      const reply = this.apply(this.state.line);
      this.state.line = '';
      if (reply !== undefined) this.state.out = reply + '\n';
      return;
    }
  }

  // wasm-assets/guest/ledger, line for line.
  private apply(line: string): string | undefined {
    if (line === '') return undefined;
    if (!line.endsWith(' .')) return '- err malformed';
    const [id = '', op = '', arg = ''] = line.slice(0, -2).split(' ');
    if (!/^[A-Za-z0-9]{1,32}$/.test(id)) return '- err bad-id';
    const stored = this.state.replies[id];
    if (stored !== undefined) return stored;
    const { total } = this.state;
    let reply: string;
    if (op === 'add') {
      if (!/^-?\d+$/.test(arg)) reply = `${id} err bad-amount`;
      else {
        this.state.total += Number(arg);
        reply = `${id} ok ${this.state.total}`;
      }
    } else if (op === 'get') reply = `${id} ok ${total}`;
    else if (op === 'rand') reply = `${id} ok ${total} rand=${Math.floor(this.random() * 4)}`;
    else if (op === 'time') reply = `${id} ok ${total} time=${Math.floor((this.scheduler.now() + this.traits.clockSkewMs) / 1000)}`;
    else reply = `${id} err bad-op`;
    this.state.replies[id] = reply;
    this.journal(reply);
    return reply;
  }

  /** The reply as a record on the disk, written as v86's IDE writes (a journal full: memory only). */
  private journal(reply: string): void {
    if (this.state.records >= SIM_DISK_BYTES / RECORD_BYTES) return;
    const record = encoder.encode(`${reply.padEnd(RECORD_BYTES - 1).slice(0, RECORD_BYTES - 1)}\n`);
    this.writeDisk(this.state.records * RECORD_BYTES, record);
    this.state.records++;
  }

  /** The guest's write to its disk, through the buffer's `set`, as v86's IDE does. */
  writeDisk(at: number, bytes: Uint8Array): void {
    this.sync.set(at, bytes, () => {});
  }

  // --- state in memory

  private snapshot(): { state: LedgerState; ticks: number } {
    return { state: this.state, ticks: this.ticks };
  }

  /** The state as of the last flush or load: what a capture takes, what a load must give. */
  private digest(): string {
    return `${this.ticks} ${this.flushed} disk ${diskDigest(this.disk.contents())}`;
  }

  /** The stopped guest's state into RAM and registers, where the delta path reads it; the pages written are marked when `tracked`. */
  private flush(tracked = true): void {
    const ram = new Uint8Array(this.memory.buffer, 0, SIM_RAM_BYTES);
    this.flushed = JSON.stringify(this.state);
    const json = encoder.encode(this.flushed);
    if (json.length > SIM_RAM_BYTES) throw new Error(`${this.name}: the ledger outgrew the guest's RAM`);
    const before = this.registers[1] as number;
    const end = Math.max(before, json.length);
    const old = ram.slice(0, end);
    ram.set(json, 0);
    if (before > json.length) ram.fill(0, json.length, before);
    // Only the pages whose bytes changed are marked: as little as a tracking VM may mark, so marks that miss a write show.
    const marks = this.tracker.map;
    if (tracked && marks !== undefined) {
      const map = new Uint8Array(this.memory.buffer, marks, Math.ceil(end / 4096));
      for (let page = 0; page * 4096 < end; page++) {
        for (let at = page * 4096; at < Math.min(end, (page + 1) * 4096); at++) {
          if (ram[at] !== old[at]) {
            map[page] = 1;
            break;
          }
        }
      }
    }
    this.registers[0] = this.ticks;
    this.registers[1] = json.length;
  }

  private readDevices(): FlatDevices {
    this.registry.record(this.digest());
    return { tree: [{ __state_type__: 'Uint32Array', buffer_id: 0 }], buffers: [this.registers] };
  }

  private writeDevices(tree: unknown): void {
    const registers = Array.isArray(tree) ? (tree[0] as unknown) : undefined;
    if (!(registers instanceof Uint32Array) || registers.length !== 2) throw new Error("device state is not this guest's");
    this.refuseMaybe();
    const length = registers[1] as number;
    const text = decoder.decode(new Uint8Array(this.memory.buffer, 0, length));
    // What RAM now holds must be a state some guest captured, before it means anything:
    // a page the delta path missed is silent on v86, not a state that fails to parse.
    this.registry.checkLoad(`${registers[0] as number} ${text} disk ${diskDigest(this.disk.contents())}`, this.name);
    const state = JSON.parse(text) as LedgerState;
    this.registers.set(registers);
    this.state = state;
    this.flushed = text;
    this.ticks = registers[0] as number;
  }

  private refuseMaybe(): void {
    if (!this.justRefused && this.refusalRandom() < this.refuseLoads) {
      this.justRefused = true;
      this.loadsRefused++;
      throw new Error(`${this.name} refused the state`);
    }
    this.justRefused = false;
  }
}

/** FNV-1a over the disk's words: a load that got any disk page wrong gives another. */
function diskDigest(disk: Uint8Array): string {
  const words = new Uint32Array(disk.buffer, disk.byteOffset, disk.byteLength / 4);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ (words[i] as number), 0x01000193);
  return (h >>> 0).toString(16);
}
