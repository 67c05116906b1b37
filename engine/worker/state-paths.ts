// Picks each side's state path. The primary's follows the checkpoint mode; the
// secondary reads whichever format arrives, so the operator can switch modes
// between checkpoints. The delta path's buffers (shadow RAM, staging) live as
// long as the worker, whatever roles it plays, so re-protection after
// re-protection allocates them once.
import { DeltaApplier } from '../checkpoint/delta-apply.ts';
import { BaseDigests } from '../checkpoint/base-digests.ts';
import { DeltaCapture } from '../checkpoint/delta-capture.ts';
import { DELTA_MAGIC } from '../checkpoint/delta-format.ts';
import { DeltaSink, DeltaSource } from '../replication/delta-path.ts';
import { bindKernels } from '../checkpoint/kernels.ts';
import type { MachineStateAccess } from '../checkpoint/machine-state.ts';
import { WasmArena } from '../checkpoint/wasm-arena.ts';
import type { SharedBase, VmstateHeader } from '../protocol/messages.ts';
import type { ReplicatedVm } from '../replication/ports.ts';
import { FullStateSink, FullStateSource, type Revert, type StatePaths, type StateSink } from '../replication/state-path.ts';

/** A VM with both state paths: v86's save/restore, and direct access for deltas (where it can give it). */
export interface MachineWithState extends ReplicatedVm {
  stateAccess(): MachineStateAccess | { unavailable: string };
}

/** Hands each received state to the path its format belongs to. */
class EitherSink implements StateSink {
  private current: StateSink;

  constructor(
    private readonly full: FullStateSink,
    private readonly delta: DeltaSink | undefined,
  ) {
    this.current = full;
  }

  get path(): 'full' | 'delta' {
    return this.current.path;
  }

  get reverted(): Revert | undefined {
    return this.current.reverted;
  }

  get base(): SharedBase | undefined {
    return this.delta?.base;
  }

  stage(header: VmstateHeader, payload: ArrayBuffer | undefined, checkpoint: number): 'ok' | { error: string } {
    const isDelta = payload !== undefined && payload.byteLength >= 4 && new DataView(payload).getUint32(0, true) === DELTA_MAGIC;
    this.current = isDelta && this.delta ? this.delta : this.full;
    return this.current.stage(header, payload, checkpoint);
  }

  async load(diverged: boolean): Promise<ArrayBuffer | undefined> {
    const handBack = await this.current.load(diverged);
    // The VM now holds a checkpoint the other path knows nothing of.
    if (this.current === this.full) this.delta?.forget();
    else this.full.forget();
    return handBack;
  }

  discard(): void {
    this.full.discard();
    this.delta?.discard();
  }

  reloadLastGood(): Promise<void> {
    return this.current.reloadLastGood();
  }

  beforeRun(): void {
    this.current.beforeRun();
  }
}

export function machineStatePaths(machine: MachineWithState, memoryBytes: number): StatePaths {
  let capture: DeltaCapture | undefined;
  let applier: DeltaApplier | undefined;
  /** The booted snapshot this worker was built from (its SHA-256), once adoptBase() kept it. */
  let image: string | undefined;
  /** Each page of that snapshot's RAM, digested: whatever this VM does later, a pair it leads can build on the snapshot. */
  let digests: BaseDigests | undefined;
  return {
    adoptBase(snapshot, standby) {
      const access = machine.stateAccess();
      if ('unavailable' in access) return;
      image = snapshot;
      // A VM that waits for its first checkpoint still holds the snapshot when
      // that comes, and keeps no copy of it; a primary's copy turns into its
      // first checkpoint. The digests outlive both.
      let ram: number;
      if (standby) {
        applier ??= new DeltaApplier(access);
        ram = applier.adoptBase();
      } else {
        capture ??= new DeltaCapture(access);
        ram = capture.adoptBase();
      }
      digests = BaseDigests.take(bindKernels(access.memory), new WasmArena(access.memory), access.ramOffset, access.ramBytes, ram);
    },
    source(mode, options) {
      if (mode === 'naive') return new FullStateSource(machine, memoryBytes);
      const access = machine.stateAccess();
      if ('unavailable' in access) return new FullStateSource(machine, memoryBytes, `delta path unavailable, sending full states: ${access.unavailable}`);
      capture ??= new DeltaCapture(access);
      return new DeltaSource(capture, { writeTracking: options.writeTracking, verify: options.verify }, image, digests);
    },
    sink(verify) {
      const access = machine.stateAccess();
      if (!('unavailable' in access)) applier ??= new DeltaApplier(access);
      return new EitherSink(new FullStateSink(machine, memoryBytes), applier ? new DeltaSink(applier, verify, image) : undefined);
    },
  };
}
