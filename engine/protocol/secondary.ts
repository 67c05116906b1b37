// The secondary side of COLO, as a pure state machine. It answers the
// primary's transaction, stages each vmstate and loads only one that arrived
// whole and verified, and takes over from the last checkpoint it loaded.
import { Failover, type ExitReason, type FailoverStatus } from './failover.ts';
import type { ColoMessage, ColoMessageType, SharedBase } from './messages.ts';

export type SecondaryPhase = 'starting' | 'idle' | 'await-send' | 'await-size' | 'loading' | 'exited' | 'primary';

export type SecondaryInput =
  /** The VM is set up and can take checkpoints; `base`: it still holds the booted snapshot it was built from. */
  | { kind: 'ready'; base?: SharedBase }
  /** `verdict` is the driver's check of the bytes that came with vmstate-size. */
  | { kind: 'message'; message: ColoMessage; verdict?: 'ok' | { error: string } }
  | { kind: 'loaded'; checkpoint: number }
  | { kind: 'load-failed'; checkpoint: number; error: string }
  | { kind: 'peer-exited'; detail: string }
  | { kind: 'protocol-error'; error: string }
  /** The heartbeat monitor gave up on the primary. */
  | { kind: 'peer-lost'; detail: string }
  /** Operator command, QEMU's x-colo-lost-heartbeat: take over now. */
  | { kind: 'lost-heartbeat' };

export type SecondaryEffect =
  | { kind: 'send'; message: ColoMessage }
  /** Load the staged state of `checkpoint`; answer with `loaded` or `load-failed`. */
  | { kind: 'load'; checkpoint: number }
  /** Throw away a partly received checkpoint. */
  | { kind: 'discard-staging' }
  /** Restore the last good checkpoint after a failed load. */
  | { kind: 'reload-last-good'; checkpoint: number }
  /** Run the VM from checkpoint `from` as the new primary; its output goes straight out. */
  | { kind: 'takeover'; from: number }
  | { kind: 'notify-peer-exit'; detail: string }
  | { kind: 'exited'; reason: ExitReason; detail: string }
  | { kind: 'failover-status'; status: FailoverStatus };

const EXPECTED: Partial<Record<SecondaryPhase, ColoMessageType>> = {
  idle: 'checkpoint-request',
  'await-send': 'vmstate-send',
  'await-size': 'vmstate-size',
};

export class SecondaryCore {
  phase: SecondaryPhase = 'starting';
  /** Checkpoint being received or loaded. */
  incoming = 0;
  /** Last checkpoint loaded whole: what a takeover resumes from. */
  loaded = 0;
  readonly failover = new Failover();
  exitReason: ExitReason = 'none';
  exitDetail = '';
  private takeoverDetail = '';

  handle(input: SecondaryInput): SecondaryEffect[] {
    switch (input.kind) {
      case 'ready':
        if (this.phase !== 'starting') return [];
        this.phase = 'idle';
        return [{ kind: 'send', message: { type: 'checkpoint-ready', ...(input.base ? { base: input.base } : {}) } }];
      case 'message':
        if (this.phase === 'exited' || this.phase === 'primary') return [];
        return this.onMessage(input.message, input.verdict);
      case 'loaded':
        return this.onLoaded(input.checkpoint);
      case 'load-failed':
        return this.onLoadFailed(input.checkpoint, input.error);
      case 'peer-exited':
        if (this.phase === 'exited' || this.phase === 'primary') return [];
        // The primary is alive and serving: taking over would make two primaries.
        return this.leave('error', `primary left COLO: ${input.detail}`, false);
      case 'protocol-error':
        if (this.phase === 'exited' || this.phase === 'primary') return [];
        return this.error(input.error);
      case 'peer-lost':
        return this.requestFailover(input.detail);
      case 'lost-heartbeat':
        return this.requestFailover('operator: x-colo-lost-heartbeat');
    }
  }

  private onMessage(message: ColoMessage, verdict: 'ok' | { error: string } | undefined): SecondaryEffect[] {
    const expected = EXPECTED[this.phase];
    if (message.type !== expected) {
      return this.error(`unexpected ${message.type}, expected ${expected ?? 'no message'} (${this.describe()})`);
    }
    const want = this.phase === 'idle' ? this.loaded + 1 : this.incoming;
    if (message.type !== 'checkpoint-ready' && message.checkpoint !== want) {
      return this.error(`${message.type} for checkpoint ${message.checkpoint}, expected checkpoint ${want}`);
    }
    switch (message.type) {
      case 'checkpoint-request':
        this.incoming = message.checkpoint;
        this.phase = 'await-send';
        return [{ kind: 'send', message: { type: 'checkpoint-reply', checkpoint: this.incoming } }];
      case 'vmstate-send':
        this.phase = 'await-size';
        return [];
      case 'vmstate-size':
        if (verdict !== 'ok') {
          const reason = verdict?.error ?? 'no verdict on the received bytes';
          return [{ kind: 'discard-staging' }, ...this.error(`vmstate of checkpoint ${this.incoming} refused: ${reason}`)];
        }
        // From here the secondary is committed: the primary releases output
        // covered by this checkpoint as soon as it reads vmstate-received.
        this.phase = 'loading';
        return [
          { kind: 'send', message: { type: 'vmstate-received', checkpoint: this.incoming } },
          { kind: 'load', checkpoint: this.incoming },
        ];
      default:
        return this.error(`unexpected ${message.type}`);
    }
  }

  private onLoaded(checkpoint: number): SecondaryEffect[] {
    if (this.phase !== 'loading' || checkpoint !== this.incoming) return [];
    this.loaded = checkpoint;
    if (this.failover.status === 'relaunch') {
      // A failover arrived during the load; it could only wait for it.
      this.failover.compareAndSet('relaunch', 'active');
      return [{ kind: 'failover-status', status: 'active' }, ...this.takeover()];
    }
    this.phase = 'idle';
    return [{ kind: 'send', message: { type: 'vmstate-loaded', checkpoint } }];
  }

  // After vmstate-received the primary may have released output that only this
  // checkpoint covers, so a failed load can never fall back to an older one.
  // Without a failover the secondary just leaves COLO (the primary, told so,
  // holds its output until the host has fenced this side). During a relaunch
  // the primary is gone and this was the only state that covers what clients
  // saw: the service is lost, never served from an older checkpoint. Retrying
  // is not chosen: the state was verified whole before vmstate-received, so the
  // VM refusing it is not a transfer fault that another try would cure.
  private onLoadFailed(checkpoint: number, error: string): SecondaryEffect[] {
    if (this.phase !== 'loading' || checkpoint !== this.incoming) return [];
    const effects: SecondaryEffect[] = this.loaded > 0 ? [{ kind: 'reload-last-good', checkpoint: this.loaded }] : [];
    if (this.failover.status === 'relaunch') {
      return [...effects, ...this.leave('error', `service lost: checkpoint ${checkpoint} could not be loaded (${error}), and no older one may serve`, false)];
    }
    return [...effects, ...this.error(`loading checkpoint ${checkpoint} failed: ${error}`)];
  }

  private requestFailover(detail: string): SecondaryEffect[] {
    // Once COLO has exited, the primary released all it held: this secondary's
    // checkpoint no longer covers what clients saw, so it must never take over.
    if (this.phase === 'primary' || this.phase === 'exited') return [];
    // A state that arrived whole is loaded first, even the first one: the
    // primary may have released output that only it covers.
    if (this.loaded === 0 && this.phase !== 'loading') {
      return this.leave('error', `cannot take over (${detail}): no complete checkpoint was ever loaded`, false);
    }
    if (!this.failover.compareAndSet('none', 'require')) return [];
    this.takeoverDetail = detail;
    if (this.phase === 'loading') {
      this.failover.compareAndSet('require', 'relaunch');
      return [{ kind: 'failover-status', status: 'relaunch' }];
    }
    this.failover.compareAndSet('require', 'active');
    const discard: SecondaryEffect[] = this.phase === 'await-send' || this.phase === 'await-size' ? [{ kind: 'discard-staging' }] : [];
    return [{ kind: 'failover-status', status: 'active' }, ...discard, ...this.takeover()];
  }

  private takeover(): SecondaryEffect[] {
    this.phase = 'primary';
    this.exitReason = 'request';
    this.exitDetail = this.takeoverDetail;
    this.failover.compareAndSet('active', 'completed');
    return [
      { kind: 'takeover', from: this.loaded },
      { kind: 'failover-status', status: 'completed' },
      { kind: 'exited', reason: 'request', detail: this.takeoverDetail },
    ];
  }

  private error(detail: string): SecondaryEffect[] {
    return this.leave('error', detail, true);
  }

  private leave(reason: ExitReason, detail: string, tellPeer: boolean): SecondaryEffect[] {
    this.phase = 'exited';
    this.exitReason = reason;
    this.exitDetail = detail;
    return [...(tellPeer ? [{ kind: 'notify-peer-exit' as const, detail }] : []), { kind: 'exited', reason, detail }];
  }

  private describe(): string {
    return `secondary ${this.phase}, last loaded checkpoint ${this.loaded}`;
  }
}
