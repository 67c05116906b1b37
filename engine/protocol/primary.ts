// The primary side of COLO's checkpoint transaction, as a pure state machine.
// One transaction, in the order of the sequence diagram:
//   checkpoint-request → (checkpoint-reply) → stop + capture → vmstate-send,
//   vmstate-size + bytes → (vmstate-received) → release output → (vmstate-loaded) → resume
// It owns no timers, VM or channel: inputs arrive as data, effects leave as data.
// Strict COLO (QEMU) keeps the VM stopped until vmstate-loaded; speculative
// mode (Remus) resumes it as soon as the state is captured: output stays held
// until vmstate-received either way, so a client sees the same guarantees.
import { Failover, type ExitReason } from './failover.ts';
import type { ColoMessage, ColoMessageType, VmstateHeader } from './messages.ts';

export type PrimaryPhase = 'wait-ready' | 'idle' | 'requested' | 'capturing' | 'await-received' | 'await-loaded' | 'exited';

/** Why a checkpoint was taken: compare mode adds a reply that differed and one that never came. */
export type CheckpointCause = 'initial' | 'periodic' | 'manual' | 'mismatch' | 'timeout';

/** When the primary's VM runs again after a capture. */
export type ResumePolicy = 'after-loaded' | 'after-capture';

export type PrimaryInput =
  | { kind: 'message'; message: ColoMessage }
  | { kind: 'checkpoint-due'; cause: Exclude<CheckpointCause, 'initial'> }
  | { kind: 'captured'; checkpoint: number; header: VmstateHeader }
  | { kind: 'capture-failed'; checkpoint: number; error: string }
  | { kind: 'peer-exited'; detail: string }
  | { kind: 'protocol-error'; error: string }
  /** The heartbeat monitor gave up on the secondary. */
  | { kind: 'peer-lost'; detail: string }
  /** Operator command, QEMU's x-colo-lost-heartbeat: on the primary it only leaves COLO. */
  | { kind: 'lost-heartbeat' }
  /**
   * The host has made sure the secondary can never take over (it left COLO or
   * was fenced). Only now may output that no checkpoint covers leave.
   */
  | { kind: 'confirmed-alone' };

export type PrimaryEffect =
  | { kind: 'send'; message: ColoMessage }
  /** Stop the VM and capture its state; answer with `captured` or `capture-failed`. */
  | { kind: 'capture'; checkpoint: number; cause: CheckpointCause }
  | { kind: 'resume' }
  /** Output produced before checkpoint `upTo` was captured may now leave. */
  | { kind: 'release'; upTo: number }
  /** Replication is over and no secondary can take over: every held output leaves. */
  | { kind: 'release-all' }
  | { kind: 'notify-peer-exit'; detail: string }
  | { kind: 'exited'; reason: ExitReason; detail: string };

const EXPECTED: Partial<Record<PrimaryPhase, ColoMessageType>> = {
  'wait-ready': 'checkpoint-ready',
  requested: 'checkpoint-reply',
  'await-received': 'vmstate-received',
  'await-loaded': 'vmstate-loaded',
};

export class PrimaryCore {
  phase: PrimaryPhase = 'wait-ready';
  /** Number of the transaction under way, or of the last one started. */
  checkpoint = 0;
  /** Last checkpoint the secondary confirmed it holds whole (vmstate-received). */
  received = 0;
  /** Last checkpoint the secondary confirmed loaded. */
  loaded = 0;
  readonly failover = new Failover();
  exitReason: ExitReason = 'none';
  exitDetail = '';
  /** After leaving COLO: the host confirmed no secondary can take over. */
  alone = false;
  private cause: CheckpointCause = 'initial';
  /** A checkpoint asked for while one was under way (not a periodic one: the next period covers that). */
  private queued: CheckpointCause | undefined;
  /** Whether this core has the VM stopped for a checkpoint. */
  private vmStopped = false;

  /** May change between checkpoints (the operator switches modes). */
  constructor(public resumePolicy: ResumePolicy = 'after-loaded') {}

  handle(input: PrimaryInput): PrimaryEffect[] {
    if (this.phase === 'exited') {
      if (input.kind !== 'confirmed-alone' || this.alone) return [];
      this.alone = true;
      return [{ kind: 'release-all' }];
    }
    switch (input.kind) {
      case 'message':
        return this.onMessage(input.message);
      case 'checkpoint-due':
        if (this.phase === 'idle') return this.request(input.cause);
        if (input.cause !== 'periodic') this.queued ??= input.cause;
        return [];
      case 'captured':
        if (this.phase !== 'capturing' || input.checkpoint !== this.checkpoint) {
          return this.error(`capture of checkpoint ${input.checkpoint} finished while ${this.describe()}`);
        }
        this.phase = 'await-received';
        return [
          { kind: 'send', message: { type: 'vmstate-send', checkpoint: this.checkpoint } },
          { kind: 'send', message: { type: 'vmstate-size', checkpoint: this.checkpoint, header: input.header } },
          ...(this.resumePolicy === 'after-capture' ? this.resume() : []),
        ];
      case 'capture-failed':
        return this.error(`capturing checkpoint ${input.checkpoint} failed: ${input.error}`);
      case 'peer-exited':
        return this.leave('error', `secondary left COLO: ${input.detail}`, false);
      case 'protocol-error':
        return this.error(input.error);
      case 'peer-lost':
        return this.failoverToSelf(input.detail);
      case 'lost-heartbeat':
        return this.failoverToSelf('operator: x-colo-lost-heartbeat');
      case 'confirmed-alone':
        return [];
    }
  }

  private onMessage(message: ColoMessage): PrimaryEffect[] {
    const expected = EXPECTED[this.phase];
    if (message.type !== expected) {
      return this.error(`unexpected ${message.type}, expected ${expected ?? 'no message'} (${this.describe()})`);
    }
    if (message.type !== 'checkpoint-ready' && message.checkpoint !== this.checkpoint) {
      return this.error(`${message.type} for checkpoint ${message.checkpoint}, expected checkpoint ${this.checkpoint}`);
    }
    switch (message.type) {
      case 'checkpoint-ready':
        // A new secondary starts from a full copy: the initial sync is checkpoint 1.
        return this.request('initial');
      case 'checkpoint-reply':
        this.phase = 'capturing';
        this.vmStopped = true;
        return [{ kind: 'capture', checkpoint: this.checkpoint, cause: this.cause }];
      case 'vmstate-received':
        this.received = this.checkpoint;
        this.phase = 'await-loaded';
        return [{ kind: 'release', upTo: this.checkpoint }];
      case 'vmstate-loaded': {
        this.loaded = this.checkpoint;
        this.phase = 'idle';
        const effects: PrimaryEffect[] = this.resume();
        if (this.queued) {
          effects.push(...this.request(this.queued));
          this.queued = undefined;
        }
        return effects;
      }
      default:
        return this.error(`unexpected ${message.type}`);
    }
  }

  private resume(): PrimaryEffect[] {
    if (!this.vmStopped) return [];
    this.vmStopped = false;
    return [{ kind: 'resume' }];
  }

  private request(cause: CheckpointCause): PrimaryEffect[] {
    this.checkpoint += 1;
    this.cause = cause;
    this.phase = 'requested';
    return [{ kind: 'send', message: { type: 'checkpoint-request', checkpoint: this.checkpoint } }];
  }

  private failoverToSelf(detail: string): PrimaryEffect[] {
    if (!this.failover.compareAndSet('none', 'require')) return [];
    this.failover.compareAndSet('require', 'active');
    const effects = this.leave('request', detail, false);
    this.failover.compareAndSet('active', 'completed');
    return effects;
  }

  private error(detail: string): PrimaryEffect[] {
    return this.leave('error', detail, true);
  }

  // Leaving COLO: a VM stopped for a checkpoint runs again, but held output
  // stays held. The secondary may not know yet and could still take over from
  // its last checkpoint, which does not cover that output; only the host, which
  // can fence the secondary, may let it out (`confirmed-alone`).
  private leave(reason: ExitReason, detail: string, tellPeer: boolean): PrimaryEffect[] {
    const resume = this.resume();
    this.phase = 'exited';
    this.exitReason = reason;
    this.exitDetail = detail;
    const effects: PrimaryEffect[] = [];
    if (tellPeer) effects.push({ kind: 'notify-peer-exit', detail });
    effects.push(...resume);
    effects.push({ kind: 'exited', reason, detail });
    return effects;
  }

  private describe(): string {
    return `primary ${this.phase}, checkpoint ${this.checkpoint}`;
  }
}
