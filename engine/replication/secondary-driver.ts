// Runs the secondary's COLO core: stages each received vmstate, verifies it in
// full before answering vmstate-received, keeps the last state it loaded, and
// on failover runs the VM as the new primary with its output going straight out.
import { LineSplitter } from '../protocol/output-commit.ts';
import type { ColoMessage, VmstateHeader } from '../protocol/messages.ts';
import { SecondaryCore, type SecondaryEffect, type SecondaryInput } from '../protocol/secondary.ts';
import { busyMsFor, type CompareConfig, type ReplicationConfig } from './config.ts';
import type { DriverEvent, DriverStatus } from './events.ts';
import { CoreDriver } from './core-driver.ts';
import type { Clock, PeerPort, ReplicatedVm } from './ports.ts';
import type { StateSink } from './state-path.ts';

const CLIENT_PORT = 1;

export class SecondaryDriver extends CoreDriver {
  private readonly core = new SecondaryCore();
  private readonly stopTap: () => void;
  private compare: boolean;
  /** The VM runs between checkpoints (compare mode), so it no longer holds exactly the last one. */
  private running = false;
  /** What came with the staged state but is not in it: the client's read position, the started output line. */
  private stagedHeader: VmstateHeader | undefined;
  /** The size of the state staged last, as it arrived: its load blocks this thread that long. */
  private stagedBytes = 0;
  /** The loaded state's buffer, handed back to the primary with vmstate-loaded. */
  private handBack: ArrayBuffer | undefined;
  /** Replaced with every load: a started line belongs to the state that started it. */
  private output: LineSplitter;

  constructor(
    private readonly vm: ReplicatedVm,
    private readonly sink: StateSink,
    port: PeerPort,
    clock: Clock,
    config: ReplicationConfig,
    emit: (event: DriverEvent) => void,
    lineStart = '',
  ) {
    super('secondary', port, clock, config, emit);
    this.compare = config.compare.enabled;
    this.output = new LineSplitter(lineStart);
    this.stopTap = vm.onSerialOutput(CLIENT_PORT, (text) => this.onClientOutput(text));
    const base = sink.base;
    this.input({ kind: 'ready', ...(base ? { base } : {}) });
  }

  /** Compare mode: the VM runs between checkpoints (from now, if it holds one) and its replies go to the primary. */
  setCompare(compare: CompareConfig): void {
    this.compare = compare.enabled;
    if (this.compare && this.core.phase === 'idle') void this.runBetweenCheckpoints();
  }

  protected onMessage(message: ColoMessage, payload: ArrayBuffer | undefined): void {
    const verdict = message.type === 'vmstate-size' ? this.stage(message.header, payload, message.checkpoint) : undefined;
    this.input({ kind: 'message', message, ...(verdict ? { verdict } : {}) });
  }

  /** Simulated hang: nothing is sent or read any more. */
  freeze(): void {
    this.link.freeze();
    void this.vm.stop();
  }

  status(): DriverStatus {
    return {
      side: 'secondary',
      role: this.core.phase === 'primary' ? 'primary' : 'secondary',
      phase: this.core.phase,
      checkpoint: this.core.incoming,
      committed: this.core.loaded,
      failover: this.core.failover.status,
      exitReason: this.core.exitReason,
      exitDetail: this.core.exitDetail,
      heldOutputLines: 0,
      runsBetweenCheckpoints: this.running && this.core.phase !== 'primary',
      heartbeatGaps: this.link.gaps,
    };
  }

  dispose(): void {
    this.stopTap();
    this.link.close();
  }

  /** The client output of a line the VM has begun: it goes with the VM to its next role. */
  get lineStart(): string {
    return this.output.lineStart;
  }

  private stage(header: VmstateHeader, payload: ArrayBuffer | undefined, checkpoint: number): 'ok' | { error: string } {
    this.stagedHeader = header;
    this.stagedBytes = Math.min(header.bytes, payload?.byteLength ?? 0);
    // Checking the state (its checksum over every byte) blocks this thread: for as long as what came is big, whatever the header claims.
    const verdict = this.link.whileBusy(() => this.sink.stage(header, payload, checkpoint), busyMsFor(this.stagedBytes, this.busyMs));
    if (verdict !== 'ok') this.trace({ kind: 'error', time: this.clock.now(), side: 'secondary', detail: verdict.error });
    return verdict;
  }

  protected input(input: SecondaryInput): void {
    const before = this.core.phase;
    const effects = this.core.handle(input);
    if (this.core.phase !== before) {
      this.trace({ kind: 'phase', time: this.clock.now(), side: 'secondary', phase: this.core.phase, checkpoint: this.core.incoming });
    }
    for (const effect of effects) this.apply(effect);
    this.emit({ type: 'status', status: this.status() });
  }

  private apply(effect: SecondaryEffect): void {
    switch (effect.kind) {
      case 'send': {
        const payload = effect.message.type === 'vmstate-loaded' ? this.handBack : undefined;
        this.handBack = undefined;
        this.link.send(effect.message, payload);
        return;
      }
      case 'load':
        void this.load(effect.checkpoint);
        return;
      case 'discard-staging':
        this.sink.discard();
        return;
      case 'reload-last-good':
        void this.sink.reloadLastGood();
        return;
      case 'takeover':
        void this.takeover(effect.from);
        return;
      case 'notify-peer-exit':
        this.link.sendExit(effect.detail);
        return;
      case 'exited':
        this.trace({ kind: 'exit', time: this.clock.now(), side: 'secondary', reason: effect.reason, detail: effect.detail });
        this.link.end();
        return;
      case 'failover-status':
        this.trace({ kind: 'failover', time: this.clock.now(), side: 'secondary', status: effect.status });
        return;
    }
  }

  private async load(checkpoint: number): Promise<void> {
    const started = this.clock.now();
    // Loading blocks this thread (v86's whole restore_state: 120–360 ms measured), perhaps after a wait.
    const endBusy = this.link.beginBusy(busyMsFor(this.stagedBytes, this.busyMs));
    try {
      const diverged = this.running;
      if (diverged) {
        await this.vm.stop();
        this.running = false;
      }
      this.handBack = await this.sink.load(diverged);
      endBusy();
      this.resumeStreams();
      const reverted = diverged ? this.sink.reverted : undefined;
      this.trace({ kind: 'load', time: this.clock.now(), checkpoint, loadMs: this.clock.now() - started, ok: true, ...(reverted ? { reverted } : {}) });
      this.input({ kind: 'loaded', checkpoint });
      if (this.compare) await this.runBetweenCheckpoints();
    } catch (err) {
      endBusy();
      this.trace({ kind: 'load', time: this.clock.now(), checkpoint, loadMs: this.clock.now() - started, ok: false });
      this.input({ kind: 'load-failed', checkpoint, error: (err as Error).message });
    }
  }

  // The state just loaded is where the primary was at capture, but two of its
  // streams live outside v86's state: the client's unread input (refilled as
  // the primary had it) and a started output line (it continues from there).
  // Whatever this VM had of either belonged to the state the load replaced.
  private resumeStreams(): void {
    const header = this.stagedHeader;
    this.output = new LineSplitter(header?.lineStart ?? '');
    const refilled = header !== undefined && this.vm.replayClientInput(header.inputAt);
    if (!refilled && this.compare) {
      this.trace({
        kind: 'error',
        time: this.clock.now(),
        side: 'secondary',
        detail: `client input from position ${header?.inputAt ?? '?'} on is not all here to refill; the port was emptied (a request in flight goes unanswered here until the next checkpoint)`,
      });
    }
  }

  private async runBetweenCheckpoints(): Promise<void> {
    if (this.running || this.core.loaded === 0 || this.core.phase !== 'idle') return;
    // Keeping a copy of RAM to undo the run from blocks this thread (80 MB copied: hundreds of ms, more when loaded).
    this.link.whileBusy(() => this.sink.beforeRun());
    this.running = true;
    await this.vm.run();
    this.emit({ type: 'status', status: this.status() });
  }

  private async takeover(from: number): Promise<void> {
    // As primary, the survivor's client output leaves at once: no one is left to protect it.
    this.trace({ kind: 'takeover', time: this.clock.now(), from });
    this.running = true;
    await this.vm.run();
  }

  private onClientOutput(text: string): void {
    const lines = this.output.push(text);
    if (lines.length === 0) return;
    if (this.core.phase === 'primary') {
      this.trace({ kind: 'output', time: this.clock.now(), side: 'secondary', state: 'released', lines });
      this.emit({ type: 'released', lines });
    } else if (this.compare) {
      this.link.sendOutput(lines, this.core.loaded);
    }
  }
}
