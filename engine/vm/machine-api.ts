// The VM adapter's contract: what a worker running one v86 guest offers its
// host over comlink. Types only, so host code never pulls v86 into its bundle.

export type SerialPort = 0 | 1;

export type MachineEvent = { type: 'serial'; port: SerialPort; text: string } | { type: 'screen-changed' } | { type: 'run-state'; running: boolean };

export type MachineListener = (events: MachineEvent[]) => void;

export type StartMode = 'snapshot' | 'boot' | 'standby';

export interface StartOptions {
  /**
   * 'snapshot' restores the committed booted state; 'boot' runs BIOS and kernel;
   * 'standby' restores the booted state too but does not run it (a secondary
   * waiting for its first checkpoint, which may build on that state).
   */
  mode: StartMode;
  /** Where the assets live: a URL in the browser, a directory under Node. */
  assetBase: string;
  /**
   * Files the page fetched once for all its PCs, this PC's own copy of each, by
   * name: read from here instead of fetched again, and verified like any other.
   */
  files?: Record<string, ArrayBuffer>;
  /**
   * Files the page is still downloading for all its PCs (the snapshot), this
   * PC's own stream of each from its first byte, by name: unpacked as they
   * arrive while the VM is built, and verified like any other.
   */
  arriving?: Record<string, ReadableStream<Uint8Array<ArrayBuffer>>>;
}

export interface StartReport {
  mode: StartMode;
  /** Fetch, verify and decompress the assets other than the snapshot. */
  assetsMs: number;
  /** Build the v86 instance (wasm instantiation, device setup), while the snapshot arrives. */
  createMs: number;
  /** Then wait for the rest of the snapshot, verified and unpacked; 0 when booting. */
  snapshotMs: number;
  /** Restore the booted snapshot; 0 when booting. */
  restoreMs: number;
}

export interface MemoryUse {
  /** The WebAssembly memory's size (it never shrinks). */
  wasmBytes: number;
  /** Of it, the guest's RAM. */
  ramBytes: number;
}

export interface MachineApi {
  start(options: StartOptions, listener: MachineListener): Promise<StartReport>;
  run(): Promise<void>;
  stop(): Promise<void>;
  isRunning(): boolean;
  /** The full v86 state. Transferred to the caller, not copied. */
  saveState(): Promise<ArrayBuffer>;
  /** Checks the header (format version, memory size, length) before v86 loads it. */
  restoreState(state: ArrayBuffer): Promise<void>;
  /**
   * Bytes into a serial port. For the client's port (ttyS1) `at` is their
   * position in the client's byte stream (compare mode mirrors the primary's
   * stream to the secondary); without it they follow what came before.
   */
  sendSerial(port: SerialPort, data: string | Uint8Array, at?: number): void;
  /**
   * From now on a reset of this VM (the guest's `reboot`) boots the guest's
   * kernel afresh, keeping the disk. Fetches the kernel and initrd the first
   * time (a VM built from the snapshot was started without them).
   */
  armReboot(): Promise<void>;
  textScreen(): string[];
  /** Instructions executed since start, as a 64-bit-safe count. */
  instructionCount(): number;
  /** What this PC's WebAssembly memory holds now: guest RAM, VGA memory, v86's own tables and the checkpoint buffers kept beside them. */
  memoryUse(): MemoryUse;
  destroy(): Promise<void>;
}
