// How checkpoint state gets from the primary's VM to the secondary's: the
// drivers only see these two interfaces. The full path (v86's save_state and
// restore_state) is here; the delta path is engine/replication/delta-path.ts.
import { stateChecksum } from '../protocol/checksum.ts';
import type { SharedBase, VmstateHeader } from '../protocol/messages.ts';
import { checkStateFits, readStateSummary } from '../vm/state-header.ts';
import type { CaptureParts } from '../checkpoint/delta-capture.ts';
import type { CheckpointMode, ReplicationConfig } from './config.ts';
import type { ReplicatedVm } from './ports.ts';

export interface CapturedState {
  /** The state in its first header.bytes bytes (a reused buffer may be larger). */
  payload: ArrayBuffer;
  /** The driver adds what is not in the state (input position, started line). */
  header: Pick<VmstateHeader, 'bytes' | 'checksum'>;
  /** Pages sent (delta path): RAM and device block. */
  pages?: { ram: number; device: number; disk?: number; diskWhole?: boolean };
  /** Delta path: how the changed RAM pages were found. */
  tracking?: 'write' | 'scan';
  /** Delta path: where the capture's time went (RAM among it). */
  parts?: CaptureParts;
  /** Full path: of the capture, the checksum over the whole state (plain JS, not the delta path's WebAssembly kernel). */
  checksumMs?: number;
}

/** What checkpoint 1 of a new pair builds on, and why. */
export interface InitialSync {
  method: 'shared-base' | 'full';
  detail: string;
}

export interface StateSource {
  readonly path: 'full' | 'delta';
  /** Why the delta path is not in use, when it was asked for. */
  readonly note?: string;
  /**
   * The new secondary is ready and holds `peer` (its checkpoint-ready): the
   * first capture builds on that base if this side holds the same one, else
   * it is a full copy. Without this call the first capture is a full copy.
   */
  initialSync(peer: SharedBase | undefined): InitialSync;
  /** The VM is stopped. */
  capture(checkpoint: number): Promise<CapturedState>;
  /** A payload buffer the secondary handed back with vmstate-loaded. */
  recycle(buffer: ArrayBuffer): void;
  /** What the next capture's size is expected to be, where it is a whole state: a bigger state blocks the thread longer (busyMsFor). */
  readonly expectedBytes?: number;
}

export interface StateSink {
  readonly path: 'full' | 'delta';
  /** The booted snapshot the VM still holds untouched, if it does: checkpoint 1 may build on it. */
  readonly base?: SharedBase;
  /** Full check of what came with vmstate-size for `checkpoint`, before vmstate-received; the VM is not touched. */
  stage(header: VmstateHeader, payload: ArrayBuffer | undefined, checkpoint: number): 'ok' | { error: string };
  /**
   * Loads the staged state; on failure the VM is back at the last good one.
   * `diverged`: the VM ran since its last load (compare mode). Returns a buffer to hand back.
   */
  load(diverged: boolean): Promise<ArrayBuffer | undefined>;
  /** After a load of a VM that ran (compare mode): how its own writes were found and undone. */
  readonly reverted?: Revert;
  /** Compare mode: the VM is about to run between checkpoints. */
  beforeRun(): void;
  discard(): void;
  /** After a failed load: make sure the VM holds the last good checkpoint. */
  reloadLastGood(): Promise<void>;
}

/** The pages a secondary that ran wrote, put back to the checkpoint: found from its write marks, or by comparing all of RAM. */
export interface Revert {
  tracking: 'write' | 'scan';
  pages: number;
  /** The disk pages the secondary wrote, put back as they were (undefined: no disk). */
  diskPages?: number;
}

/** Makes each side's state path for a checkpoint mode; one per worker. */
export interface StatePaths {
  /** `capture`: whether delta captures use the write marks, and verify them against a full compare. */
  source(mode: CheckpointMode, capture: Pick<ReplicationConfig, 'writeTracking' | 'verify'>): StateSource;
  /** The secondary reads whatever format the primary sends. */
  /** `verify`: after undoing a compare-mode run from its write marks, compare all of RAM too and fail on a page they missed. */
  sink(verify: boolean): StateSink;
  /**
   * The VM was just built from the booted snapshot `image` (its file's
   * SHA-256) and has not run: the delta path keeps its RAM as the shared base,
   * to build a later pair's checkpoint 1 on (a copy, or where the VM will run
   * on, each page's digest); `standby`, the VM will wait for its first
   * checkpoint, so it can take one built on the base too.
   */
  adoptBase?(image: string, standby: boolean): void;
}

/** Full check of a received v86 state against what vmstate-size announced for `checkpoint`. */
export function verifyVmstate(header: VmstateHeader, payload: ArrayBuffer | undefined, memoryBytes: number, checkpoint: number): 'ok' | { error: string } {
  // All of RAM, VGA memory and device state fit well within twice the RAM size.
  const limit = 2 * memoryBytes;
  if (header.bytes > limit) {
    return { error: `oversized: vmstate-size announced ${header.bytes} bytes, more than the ${limit} a state of this machine can take` };
  }
  if (!payload) return { error: 'no state bytes came with vmstate-size' };
  if (payload.byteLength !== header.bytes) {
    const what = payload.byteLength < header.bytes ? 'truncated' : 'oversized';
    return { error: `${what}: ${payload.byteLength} bytes arrived, vmstate-size announced ${header.bytes}` };
  }
  const sum = stateChecksum(payload, checkpoint);
  if (sum !== header.checksum) {
    return {
      error: `checksum mismatch: computed ${sum.toString(16)} for checkpoint ${checkpoint}, announced ${header.checksum.toString(16)} (corrupt, or a state of another checkpoint)`,
    };
  }
  try {
    checkStateFits(readStateSummary(payload), memoryBytes);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return 'ok';
}

/** v86's own save_state: every checkpoint a fresh, whole state. */
export class FullStateSource implements StateSource {
  readonly path = 'full';
  /** The last capture's size; before the first, the VM's RAM (v86's whole state of this guest is about 40 % of it). */
  expectedBytes: number;

  constructor(
    private readonly vm: ReplicatedVm,
    memoryBytes: number,
    readonly note?: string,
  ) {
    this.expectedBytes = memoryBytes;
  }

  initialSync(): InitialSync {
    return { method: 'full', detail: "naive mode sends v86's whole state every time" };
  }

  async capture(checkpoint: number): Promise<CapturedState> {
    const payload = await this.vm.saveState();
    const started = performance.now();
    const checksum = stateChecksum(payload, checkpoint);
    this.expectedBytes = payload.byteLength;
    return { payload, header: { bytes: payload.byteLength, checksum }, checksumMs: performance.now() - started };
  }

  recycle(): void {}
}

export class FullStateSink implements StateSink {
  readonly path = 'full';
  private staged: ArrayBuffer | undefined;
  private lastGood: ArrayBuffer | undefined;

  constructor(
    private readonly vm: ReplicatedVm,
    private readonly memoryBytes: number,
  ) {}

  stage(header: VmstateHeader, payload: ArrayBuffer | undefined, checkpoint: number): 'ok' | { error: string } {
    const verdict = verifyVmstate(header, payload, this.memoryBytes, checkpoint);
    this.staged = verdict === 'ok' ? payload : undefined;
    return verdict;
  }

  async load(): Promise<undefined> {
    const state = this.staged;
    this.staged = undefined;
    if (!state) throw new Error('nothing staged');
    await this.vm.restoreState(state);
    // v86 copies out of the buffer, so it can be kept as the last good state.
    this.lastGood = state;
    return undefined;
  }

  discard(): void {
    this.staged = undefined;
  }

  /** The VM was loaded by another path since: the kept state is no longer the last good one. */
  forget(): void {
    this.lastGood = undefined;
  }

  async reloadLastGood(): Promise<void> {
    if (this.lastGood) await this.vm.restoreState(this.lastGood);
  }

  /** restore_state replaces all of RAM: nothing to prepare. */
  beforeRun(): void {}
}

/** The full path for every mode: for VMs without the delta path (the simulation's). */
export function fullStatePaths(vm: ReplicatedVm, memoryBytes: number): StatePaths {
  return { source: () => new FullStateSource(vm, memoryBytes), sink: () => new FullStateSink(vm, memoryBytes) };
}
