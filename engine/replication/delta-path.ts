// The delta path behind the drivers' StateSource / StateSink interfaces.
import type { VmstateHeader } from '../protocol/messages.ts';
import type { CapturedState, Revert, StateSink, StateSource } from './state-path.ts';
import type { DeltaApplier } from '../checkpoint/delta-apply.ts';
import type { CaptureOptions, DeltaCapture } from '../checkpoint/delta-capture.ts';

export class DeltaSource implements StateSource {
  readonly path = 'delta';

  /** Why changed RAM is found by comparing all of it (no write tracking), if it is. */
  readonly note: string | undefined;

  /** `capture` starts from nothing: the secondary of a new pair holds nothing. */
  constructor(
    private readonly delta: DeltaCapture,
    private readonly options: CaptureOptions = { writeTracking: true, verify: false },
  ) {
    delta.reset();
    const why = options.writeTracking ? delta.trackingUnavailable : 'turned off in the replication settings';
    this.note = why === undefined ? undefined : `no write tracking, each checkpoint compares all of RAM: ${why}`;
  }

  async capture(checkpoint: number): Promise<CapturedState> {
    const d = this.delta.capture(checkpoint, this.options);
    return {
      payload: d.payload,
      header: { bytes: d.bytes, checksum: d.checksum },
      pages: { ram: d.ramPages, device: d.devicePages },
      tracking: d.tracking,
      parts: d.parts,
    };
  }

  recycle(buffer: ArrayBuffer): void {
    this.delta.recycle(buffer);
  }
}

export class DeltaSink implements StateSink {
  readonly path = 'delta';
  private staged: ArrayBuffer | undefined;

  constructor(
    private readonly applier: DeltaApplier,
    private readonly verify = false,
  ) {
    applier.reset();
  }

  stage(header: VmstateHeader, payload: ArrayBuffer | undefined, checkpoint: number): 'ok' | { error: string } {
    this.staged = undefined;
    if (!payload) return { error: 'no state bytes came with vmstate-size' };
    const verdict = this.applier.stage(payload, header.bytes, checkpoint);
    if (verdict === 'ok') this.staged = payload;
    return verdict;
  }

  /** Hands the payload buffer back: the primary reuses it for a later checkpoint. */
  async load(diverged: boolean): Promise<ArrayBuffer> {
    const payload = this.staged;
    this.staged = undefined;
    if (!payload) throw new Error('nothing staged');
    this.applier.apply(diverged, this.verify);
    this.reverted = diverged ? this.applier.lastRevert : undefined;
    return payload;
  }

  reverted: Revert | undefined;

  beforeRun(): void {
    this.applier.keepShadow();
  }

  discard(): void {
    this.staged = undefined;
    this.applier.discard();
  }

  /** The VM was loaded by another path: the next delta must start from nothing. */
  forget(): void {
    this.applier.reset();
  }

  /** apply() either finishes or puts everything back: the VM holds the last good checkpoint already. */
  async reloadLastGood(): Promise<void> {}
}
