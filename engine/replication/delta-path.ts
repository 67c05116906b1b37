// The delta path behind the drivers' StateSource / StateSink interfaces.
import { sameBase, type SharedBase, type VmstateHeader } from '../protocol/messages.ts';
import type { CapturedState, InitialSync, Revert, StateSink, StateSource } from './state-path.ts';
import type { BaseDigests } from '../checkpoint/base-digests.ts';
import type { DeltaApplier } from '../checkpoint/delta-apply.ts';
import { hex } from '../checkpoint/delta-format.ts';
import type { CaptureOptions, DeltaCapture } from '../checkpoint/delta-capture.ts';

export class DeltaSource implements StateSource {
  readonly path = 'delta';

  /** Why changed RAM is found by comparing all of it (no write tracking), if it is. */
  readonly note: string | undefined;

  /** Whether initialSync() chose what the first capture builds on. */
  private decided = false;

  /** `image`: the booted snapshot the worker was built from (its SHA-256), if it was; `digests`: its RAM's pages, digested then. */
  constructor(
    private readonly delta: DeltaCapture,
    private readonly options: CaptureOptions = { writeTracking: true, verify: false },
    private readonly image?: string,
    private readonly digests?: BaseDigests,
  ) {
    const why = options.writeTracking ? delta.trackingUnavailable : 'turned off in the replication settings';
    this.note = why === undefined ? undefined : `no write tracking, each checkpoint compares all of RAM: ${why}`;
  }

  initialSync(peer: SharedBase | undefined): InitialSync {
    this.decided = true;
    const ram = this.delta.heldBase;
    const mine = this.image !== undefined && ram !== undefined ? { image: this.image, ram } : undefined;
    if (sameBase(mine, peer) && this.delta.reset(true)) {
      return {
        method: 'shared-base',
        detail: `both hold booted snapshot ${this.image?.slice(0, 12)}… (RAM checksum ${hex(ram ?? 0)}): only what differs from it travels`,
      };
    }
    // This VM ran on from the snapshot: its pages' digests still say which differ from it.
    const digested = this.image !== undefined && this.digests !== undefined ? { image: this.image, ram: this.digests.ram } : undefined;
    if (this.digests && sameBase(digested, peer)) {
      this.delta.resetOnDigests(this.digests);
      return {
        method: 'shared-base',
        detail: `the secondary holds booted snapshot ${this.image?.slice(0, 12)}… (RAM checksum ${hex(this.digests.ram)}), this primary ran on from it: the pages whose digest changed travel, with all of RAM's checksum for the secondary to check`,
      };
    }
    this.delta.reset(false);
    const known = mine ?? digested;
    const why = !peer
      ? 'the secondary holds no untouched booted snapshot'
      : !known
        ? 'this primary was not built from a booted snapshot'
        : peer.image !== known.image
          ? `the two were built from different snapshots (${peer.image.slice(0, 12)}… and ${known.image.slice(0, 12)}…)`
          : `the two snapshots restored to different RAM (checksums ${hex(peer.ram)} and ${hex(known.ram)})`;
    return { method: 'full', detail: `a full copy: ${why}` };
  }

  async capture(checkpoint: number): Promise<CapturedState> {
    // A source made mid-pair (a mode switch), or one whose secondary said nothing: the VM holds nothing this knows of.
    if (!this.decided) {
      this.decided = true;
      this.delta.reset(false);
    }
    const d = this.delta.capture(checkpoint, this.options);
    return {
      payload: d.payload,
      header: { bytes: d.bytes, checksum: d.checksum },
      pages: {
        ram: d.ramPages,
        device: d.devicePages,
        ...(d.diskPages !== undefined ? { disk: d.diskPages, ...(d.diskWhole ? { diskWhole: true } : {}) } : {}),
      },
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

  /** `image`: the booted snapshot the worker was built from (its SHA-256), if it was; the applier knows whether the VM still holds it. */
  constructor(
    private readonly applier: DeltaApplier,
    private readonly verify = false,
    private readonly image?: string,
  ) {
    // A new secondary builds on nothing it held before, except the untouched booted snapshot.
    if (applier.heldBase === undefined) applier.reset();
  }

  get base(): SharedBase | undefined {
    const ram = this.applier.heldBase;
    return this.image !== undefined && ram !== undefined ? { image: this.image, ram } : undefined;
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
