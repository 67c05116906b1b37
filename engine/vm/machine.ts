// One v86 guest, built from the project's assets. Runs inside a worker (see
// worker-main.ts) and knows nothing about replication.
import { V86 } from 'v86';
import { EventBatcher } from '../shared/event-batcher.ts';
import v86Package from 'v86/package.json';
import { readManifest, readUnpacked, readVerified, withGivenFiles, type AssetSource } from './asset-source.ts';
import { GUEST_CONFIG, type AssetManifest } from './guest-config.ts';
import type { MachineApi, MachineEvent, MachineListener, MemoryUse, SerialPort, StartOptions, StartReport } from './machine-api.ts';
import { checkStateFits, readStateSummary, StateError } from './state-header.ts';
import type { MachineStateAccess } from '../checkpoint/machine-state.ts';
import { openStateAccess } from './v86-state-access.ts';
import { openWriteTracker, readV86Wasm, type V86Wasm, type V86WriteTracker } from './write-tracking.ts';
import { idleWithoutSpinning, stopPromptly, type V86Loop } from './v86-loop.ts';
import { zeroSparselyOnce } from './v86-sparse-zero.ts';
import { keepTscExact } from './v86-tsc.ts';
import { loadStateInPlace } from './v86-state-load.ts';
import { ClientInputLog, type ReceivingPort } from './client-input-log.ts';
import { armReboot } from './v86-reboot.ts';

/** v86 internals the adapter uses; absent from v86.d.ts, so each use checks for them. */
export interface V86Internals {
  screen_adapter?: { get_text_screen?: () => string[] };
  v86?: V86Loop & { cpu?: { devices?: { uart1?: UartInternals }; wasm_memory?: unknown } };
}

/** v86's UART keeps unread input in a plain array, outside its saved state. */
export type UartInternals = ReceivingPort;

const INSTRUCTION_POLL_MS = 1000;
const CLIENT_PORT = 1;
/** Far more than a checkpoint period of client requests. */
const CLIENT_LOG_BYTES = 64 * 1024;

/** Adjacent output of one serial port becomes one event; screen changes, one per batch. */
function coalesce(events: MachineEvent[]): MachineEvent[] {
  const out: MachineEvent[] = [];
  let screen = false;
  for (const event of events) {
    const last = out.at(-1);
    if (event.type === 'serial' && last?.type === 'serial' && last.port === event.port) {
      out[out.length - 1] = { ...last, text: last.text + event.text };
    } else if (event.type !== 'screen-changed' || !screen) {
      screen ||= event.type === 'screen-changed';
      out.push(event);
    }
  }
  return out;
}

/** Frees a buffer's memory now rather than at the worker's next full collection (where ArrayBuffer.prototype.transfer exists). */
function releaseNow(buffer: ArrayBuffer): void {
  (buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
}

/** The booted snapshot's state: its file read, verified and unpacked. */
function readSnapshot(source: AssetSource, manifest: AssetManifest, record: NonNullable<AssetManifest['snapshot']>): Promise<ArrayBuffer> {
  return readUnpacked(source, manifest, GUEST_CONFIG.files.snapshot, record.stateBytes);
}

/**
 * The booted snapshot only fits the v86 build and machine options it was saved
 * with. Returns its record; `stateBytes` is what the snapshot unpacks to.
 */
function checkSnapshotRecord(manifest: AssetManifest): NonNullable<AssetManifest['snapshot']> {
  const record = manifest.snapshot;
  if (!record) throw new StateError('snapshot: manifest.json has no snapshot record; run `npm run assets`');
  if (record.v86Version !== v86Package.version) {
    throw new StateError(`snapshot: saved by v86 ${record.v86Version}, this build runs v86 ${v86Package.version}; run \`npm run assets\``);
  }
  if (record.memoryBytes !== GUEST_CONFIG.memoryBytes || record.vgaMemoryBytes !== GUEST_CONFIG.vgaMemoryBytes || record.diskBytes !== GUEST_CONFIG.diskBytes) {
    throw new StateError(
      `snapshot: saved from a VM with ${record.memoryBytes} bytes of memory, ${record.vgaMemoryBytes} of VGA memory and a disk of ${record.diskBytes}, ` +
        `this VM has ${GUEST_CONFIG.memoryBytes}, ${GUEST_CONFIG.vgaMemoryBytes} and ${GUEST_CONFIG.diskBytes}; run \`npm run assets\``,
    );
  }
  if (!Number.isSafeInteger(record.stateBytes) || record.stateBytes <= 0)
    throw new StateError(`snapshot: manifest.json gives it ${record.stateBytes} bytes unpacked; run \`npm run assets\``);
  return record;
}

export class GuestMachine implements MachineApi {
  private emulator: V86 | undefined;
  private listener: MachineListener = () => {};
  // Events leave in one message per v86 time slice, not one per byte.
  private readonly batcher = new EventBatcher<MachineEvent>((events) => this.listener(coalesce(events)));
  private instructions = 0;
  private lastCounter = 0;
  private counterTimer: ReturnType<typeof setInterval> | undefined;
  private readonly taps: [Set<(text: string) => void>, Set<(text: string) => void>] = [new Set(), new Set()];
  private readonly clientInput = new ClientInputLog(CLIENT_LOG_BYTES);
  /** Which v86.wasm runs (the write-tracking build, or v86's own and why), and its exports. */
  private wasm: { build: V86Wasm; exports?: WebAssembly.Exports } | undefined;
  private tracker: V86WriteTracker | { unavailable: string } | undefined;
  /** Where start() read the assets from. */
  private assetBase: string | undefined;
  /** armReboot() done or under way. */
  private rebootArmed: Promise<void> | undefined;

  constructor(private readonly openSource: (assetBase: string) => AssetSource) {}

  /**
   * `restored`: called with the snapshot's SHA-256 once the VM holds the booted
   * snapshot and before it runs (the delta path keeps that RAM as the shared base).
   */
  async start(options: StartOptions, listener: MachineListener, restored?: (image: string) => void): Promise<StartReport> {
    if (this.emulator) throw new Error('machine: already started');
    this.listener = listener;
    const t0 = performance.now();
    this.assetBase = options.assetBase;
    const source = withGivenFiles(this.openSource(options.assetBase), options.files ?? {}, options.arriving);
    const manifest = await readManifest(source);
    const fromSnapshot = options.mode !== 'boot';
    const record = fromSnapshot ? checkSnapshotRecord(manifest) : undefined;
    const { files } = GUEST_CONFIG;
    // A VM built from the snapshot never boots the kernel: the snapshot's RAM
    // holds it already (6.8 MB less to fetch and hash per PC; a guest `reboot`
    // then finds no kernel to load).
    // The snapshot, most of the bytes, may still be arriving: the VM is built meanwhile.
    const arriving = record ? readSnapshot(source, manifest, record) : undefined;
    arriving?.catch(() => {}); // awaited once the VM is built
    const [bios, vgaBios, kernel, initrd, wasm] = await Promise.all([
      readVerified(source, manifest, files.bios),
      readVerified(source, manifest, files.vgaBios),
      fromSnapshot ? undefined : readVerified(source, manifest, files.kernel),
      fromSnapshot ? undefined : readVerified(source, manifest, files.initrd),
      readV86Wasm(source, manifest, v86Package.version),
    ]);
    const t1 = performance.now();

    const emulator = new V86({
      wasm_fn: async (imports) => {
        const { exports } = (await WebAssembly.instantiate(wasm.bytes, imports)).instance;
        this.wasm = { build: wasm, exports };
        return exports;
      },
      memory_size: GUEST_CONFIG.memoryBytes,
      vga_memory_size: GUEST_CONFIG.vgaMemoryBytes,
      bios: { buffer: bios },
      vga_bios: { buffer: vgaBios },
      ...(kernel && initrd ? { bzimage: { buffer: kernel }, initrd: { buffer: initrd } } : {}),
      // A snapshot's state brings the disk's contents; a state loads only into a VM with the same disk.
      hda: { buffer: new ArrayBuffer(GUEST_CONFIG.diskBytes) },
      cmdline: GUEST_CONFIG.cmdline,
      uart1: true,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    });
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    // Before any state is loaded (the snapshot included): v86's set_tsc is off by its previous offset.
    // A v86 without the internals it needs fails test/node/v86-internals.test.ts.
    keepTscExact(emulator);
    idleWithoutSpinning(emulator);
    this.emulator = emulator;
    this.wireEvents(emulator);
    const t2 = performance.now();
    let snapshot: ArrayBuffer | undefined;
    try {
      snapshot = await arriving;
    } catch (err) {
      // No VM is left half made: a start that failed leaves none.
      this.emulator = undefined;
      void Promise.resolve(emulator.destroy()).catch(() => {});
      throw err;
    }
    const t2s = performance.now();

    if (snapshot) {
      // Its RAM is fresh: the load need not write zeros over it (a v86 without the internals keeps its own way).
      zeroSparselyOnce(emulator, true);
      await this.restoreState(snapshot);
      releaseNow(snapshot);
      restored?.(manifest.files[files.snapshot]?.sha256 ?? '');
    }
    const t3 = performance.now();
    if (options.mode !== 'standby') await this.run();
    this.counterTimer = setInterval(() => this.instructionCount(), INSTRUCTION_POLL_MS);
    return { mode: options.mode, assetsMs: t1 - t0, createMs: t2 - t1, snapshotMs: t2s - t2, restoreMs: t3 - t2s };
  }

  private wireEvents(emulator: V86): void {
    const decoder = [new TextDecoder(), new TextDecoder()] as const;
    const serial = (port: SerialPort) => (byte: number) => {
      const text = decoder[port].decode(new Uint8Array([byte]), { stream: true });
      for (const tap of this.taps[port]) tap(text);
      this.emit({ type: 'serial', port, text });
    };
    emulator.add_listener('serial0-output-byte', serial(0));
    emulator.add_listener('serial1-output-byte', serial(1));
    emulator.add_listener('screen-put-char', () => this.emit({ type: 'screen-changed' }));
    emulator.add_listener('emulator-started', () => this.emit({ type: 'run-state', running: true }));
    emulator.add_listener('emulator-stopped', () => this.emit({ type: 'run-state', running: false }));
  }

  private emit(event: MachineEvent): void {
    this.batcher.push(event);
  }

  private vm(): V86 {
    if (!this.emulator) throw new Error('machine: not started');
    return this.emulator;
  }

  async run(): Promise<void> {
    await this.vm().run();
  }

  async stop(): Promise<void> {
    await stopPromptly(this.vm());
  }

  isRunning(): boolean {
    return this.vm().is_running();
  }

  async saveState(): Promise<ArrayBuffer> {
    return this.vm().save_state();
  }

  async restoreState(state: ArrayBuffer): Promise<void> {
    const vm = this.vm();
    checkStateFits(readStateSummary(state), GUEST_CONFIG.memoryBytes);
    const wasRunning = vm.is_running();
    if (wasRunning) await vm.stop();
    // v86 writes all of RAM itself: the write tracking does not see it.
    if (this.tracker && 'wroteBehind' in this.tracker) this.tracker.wroteBehind();
    try {
      if (!loadStateInPlace(vm, state)) await vm.restore_state(state);
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(`state: v86 could not load it (${(err as Error).message})`);
    } finally {
      if (wasRunning) await vm.run();
    }
  }

  /** The delta path's access to RAM and device state, or why this v86 cannot give it. */
  stateAccess(): MachineStateAccess | { unavailable: string } {
    return openStateAccess(this.vm(), GUEST_CONFIG.memoryBytes, GUEST_CONFIG.diskBytes, (ramOffset) => (this.tracker ??= this.openTracker(ramOffset)));
  }

  private openTracker(ramOffset: number): V86WriteTracker | { unavailable: string } {
    const wasm = this.wasm;
    if (!wasm?.exports) return { unavailable: 'v86 was not started' };
    if (!wasm.build.tracking) return { unavailable: wasm.build.why };
    return openWriteTracker(wasm.exports, ramOffset, GUEST_CONFIG.memoryBytes);
  }

  onSerialOutput(port: SerialPort, listener: (text: string) => void): () => void {
    this.taps[port].add(listener);
    return () => this.taps[port].delete(listener);
  }

  sendSerial(port: SerialPort, data: string | Uint8Array, at?: number): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (port === CLIENT_PORT) this.clientInput.append(bytes, at);
    this.vm().serial_send_bytes(port, bytes);
  }

  async armReboot(): Promise<void> {
    if (this.rebootArmed) return this.rebootArmed;
    const assetBase = this.assetBase;
    if (assetBase === undefined) throw new Error('machine: not started');
    this.rebootArmed = (async () => {
      const source = this.openSource(assetBase);
      const manifest = await readManifest(source);
      const [bzimage, initrd] = await Promise.all([
        readVerified(source, manifest, GUEST_CONFIG.files.kernel),
        readVerified(source, manifest, GUEST_CONFIG.files.initrd),
      ]);
      const cpu = (this.vm() as unknown as { v86?: { cpu?: object } }).v86?.cpu ?? {};
      // The kernel's copies go into RAM behind the write tracking's back.
      const why = armReboot(cpu, { bzimage, initrd, cmdline: GUEST_CONFIG.cmdline }, () => {
        if (this.tracker && 'wroteBehind' in this.tracker) this.tracker.wroteBehind();
      });
      if (why) throw new Error(`machine: cannot reboot the guest: ${why}`);
    })();
    // A failed attempt may be tried again.
    this.rebootArmed.catch(() => (this.rebootArmed = undefined));
    return this.rebootArmed;
  }

  /** Stream position up to which the guest has read the client's input (the rest waits in the UART). */
  clientInputConsumed(): number {
    return this.clientInput.end - (this.clientUart()?.input.length ?? 0);
  }

  /**
   * After loading a checkpoint captured when the primary had read the client's
   * stream up to `from`: the port holds exactly the bytes after that, as the
   * primary's did. False if they are not all known here: the port is then empty.
   */
  replayClientInput(from: number): boolean {
    const uart = this.clientUart();
    return uart !== undefined && this.clientInput.refill(uart, from);
  }

  private clientUart(): UartInternals | undefined {
    const uart = (this.vm() as unknown as V86Internals).v86?.cpu?.devices?.uart1;
    return uart && Array.isArray(uart.input) && typeof uart.data_received === 'function' ? uart : undefined;
  }

  textScreen(): string[] {
    const screen = (this.vm() as unknown as V86Internals).screen_adapter;
    if (typeof screen?.get_text_screen !== 'function') {
      throw new Error('machine: this v86 build has no screen_adapter.get_text_screen (internal API changed)');
    }
    return screen.get_text_screen();
  }

  instructionCount(): number {
    const counter = this.vm().get_instruction_counter();
    this.instructions += (counter - this.lastCounter) >>> 0;
    this.lastCounter = counter;
    return this.instructions;
  }

  memoryUse(): MemoryUse {
    const memory = (this.vm() as unknown as V86Internals).v86?.cpu?.wasm_memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('machine: this v86 build has no v86.cpu.wasm_memory (internal API changed)');
    return { wasmBytes: memory.buffer.byteLength, ramBytes: GUEST_CONFIG.memoryBytes };
  }

  async destroy(): Promise<void> {
    clearInterval(this.counterTimer);
    const vm = this.emulator;
    this.emulator = undefined;
    await vm?.destroy();
  }
}
