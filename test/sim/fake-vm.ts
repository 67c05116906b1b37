// A stand-in for a v86 guest that runs the ledger: same line protocol and
// framing as wasm-assets/guest/ledger, state saved in v86's header format so
// the real verification path reads it. Every state a VM saves is registered,
// so a secondary that loads anything else is caught.
import { checksum32 } from '../../engine/protocol/checksum.ts';
import type { ReplicatedVm } from '../../engine/replication/ports.ts';
import type { SerialPort } from '../../engine/vm/machine-api.ts';
import { V86_STATE_FORMAT_VERSION, V86_STATE_MAGIC } from '../../engine/vm/state-header.ts';
import type { SimScheduler } from './scheduler.ts';

export const SIM_MEMORY_BYTES = 80 * 1024 * 1024;
const TICK_MS = 2;

interface LedgerState {
  total: number;
  replies: [string, string][];
}

/** Every state any VM saved, by checksum: a load of anything else is a violation. */
export class StateRegistry {
  private readonly saved = new Set<number>();
  readonly violations: string[] = [];

  record(state: ArrayBuffer): void {
    this.saved.add(checksum32(state));
  }

  checkLoad(state: ArrayBuffer, who: string): void {
    if (!this.saved.has(checksum32(state))) this.violations.push(`${who} loaded a state no VM saved whole (${state.byteLength} bytes)`);
  }
}

export class FakeVm implements ReplicatedVm {
  running = false;
  /** Fault for tests: stop() never returns, as a wedged emulator would. */
  hangOnStop = false;
  private total = 0;
  private replies = new Map<string, string>();
  private input = '';
  private received = 0;
  private readonly taps: [Set<(text: string) => void>, Set<(text: string) => void>] = [new Set(), new Set()];
  private readonly stopTicking: () => void;

  constructor(
    scheduler: SimScheduler,
    private readonly registry: StateRegistry,
    private readonly name: string,
  ) {
    this.stopTicking = scheduler.every(TICK_MS, () => this.tick());
  }

  async run(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    if (this.hangOnStop) return new Promise<void>(() => {});
    this.running = false;
  }

  async saveState(): Promise<ArrayBuffer> {
    const info: LedgerState = { total: this.total, replies: [...this.replies] };
    const state = encodeState(info);
    this.registry.record(state);
    return state;
  }

  async restoreState(state: ArrayBuffer): Promise<void> {
    this.registry.checkLoad(state, this.name);
    const info = decodeState(state);
    this.total = info.total;
    this.replies = new Map(info.replies);
  }

  onSerialOutput(port: SerialPort, listener: (text: string) => void): () => void {
    this.taps[port].add(listener);
    return () => this.taps[port].delete(listener);
  }

  /** Bytes arriving on the client's serial port (ttyS1). */
  receive(text: string): void {
    this.input += text;
    this.received += text.length;
  }

  clientInputConsumed(): number {
    return this.received - this.input.length;
  }

  /** The simulation runs no compare mode: nothing is mirrored to replay. */
  replayClientInput(): boolean {
    return false;
  }

  kill(): void {
    this.running = false;
    this.stopTicking();
  }

  private tick(): void {
    if (!this.running) return;
    const at = this.input.indexOf('\n');
    if (at === -1) return;
    const line = this.input.slice(0, at);
    this.input = this.input.slice(at + 1);
    const reply = this.apply(line);
    if (reply !== undefined) for (const tap of this.taps[1]) tap(reply + '\n');
  }

  // The guest's ledger script, line for line.
  private apply(line: string): string | undefined {
    if (line === '') return undefined;
    if (!line.endsWith(' .')) return '- err malformed';
    const [id = '', op = '', arg = ''] = line.slice(0, -2).split(' ');
    if (!/^[A-Za-z0-9]{1,32}$/.test(id)) return '- err bad-id';
    const stored = this.replies.get(id);
    if (stored !== undefined) return stored;
    let reply: string;
    if (op === 'add') {
      if (!/^-?\d+$/.test(arg)) reply = `${id} err bad-amount`;
      else {
        this.total += Number(arg);
        reply = `${id} ok ${this.total}`;
      }
    } else if (op === 'get') reply = `${id} ok ${this.total}`;
    else reply = `${id} err bad-op`;
    this.replies.set(id, reply);
    return reply;
  }
}

function encodeState(info: LedgerState): ArrayBuffer {
  const json = new TextEncoder().encode(JSON.stringify({ state: [SIM_MEMORY_BYTES], buffer_infos: [], ledger: info }));
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

function decodeState(state: ArrayBuffer): LedgerState {
  const length = new DataView(state).getInt32(12, true);
  const info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, length))) as { ledger: LedgerState };
  return info.ledger;
}
