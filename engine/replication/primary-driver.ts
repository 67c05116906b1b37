// Runs the primary's COLO core against the real world: the VM to stop and
// capture, the link to the secondary, the period timer, and output commit of
// the client's serial port (ttyS1).
import { OutputCommit, type HeldLine } from '../protocol/output-commit.ts';
import { PrimaryCore, type CheckpointCause, type PrimaryEffect, type PrimaryInput, type ResumePolicy } from '../protocol/primary.ts';
import type { ColoMessage } from '../protocol/messages.ts';
import { busyMsFor, type CheckpointMode, type CompareConfig, type ReplicationConfig } from './config.ts';
import { CoreDriver } from './core-driver.ts';
import type { DriverEvent, DriverStatus } from './events.ts';
import type { Clock, PeerPort, ReplicatedVm } from './ports.ts';
import type { StateSource } from './state-path.ts';

const CLIENT_PORT = 1;
/** How often held replies are checked against the compare timeout. */
const COMPARE_TICK_MS = 100;

const resumePolicy = (mode: CheckpointMode): ResumePolicy => (mode === 'speculative' ? 'after-capture' : 'after-loaded');
const CAPTURE_LIMIT_MS = 10_000;

export class PrimaryDriver extends CoreDriver {
  private readonly core: PrimaryCore;
  private readonly output: OutputCommit;
  private outputCommit: 'hold' | 'unsafe' = 'hold';
  private frozen = false;
  private readonly stopTap: () => void;
  private cancelPeriod: () => void = () => {};
  private periodMs: number;
  /** Whether delta captures use the write marks, and verify them (kept for a later mode switch). */
  readonly captureOptions: { writeTracking: boolean; verify: boolean };
  /** Epoch of output written now: covered by the next checkpoint captured. */
  private epoch = 1;
  private captured: ArrayBuffer | undefined;
  private pauseStartedAt = 0;

  private nextSource: StateSource | undefined;
  private compare: CompareConfig = { enabled: false, timeoutMs: 0 };
  private stopCompareTimer: () => void = () => {};
  /** The VM is stopped for a checkpoint (from capture until resumed). */
  private paused = false;
  /** A hand-over is under way or done: no checkpoint starts any more (see handOver). */
  private handingOver = false;
  /** Called once no checkpoint is under way, while a hand-over waits for that. */
  private settledListener: (() => void) | undefined;

  constructor(
    private readonly vm: ReplicatedVm,
    private source: StateSource,
    port: PeerPort,
    clock: Clock,
    config: ReplicationConfig,
    emit: (event: DriverEvent) => void,
    /** Output of a line this VM had begun before this driver took over its output. */
    lineStart = '',
    /** Replies the previous driver of this VM still held (a hand-over): held until checkpoint 1 covers them. */
    carried: readonly string[] = [],
  ) {
    super('primary', port, clock, config, emit);
    this.output = new OutputCommit(lineStart, carried, clock.now());
    if (carried.length > 0) this.trace({ kind: 'output', time: clock.now(), side: 'primary', state: 'held', lines: [...carried], checkpoint: 1 });
    this.core = new PrimaryCore(resumePolicy(config.mode));
    this.periodMs = config.periodMs;
    this.captureOptions = { writeTracking: config.writeTracking, verify: config.verify };
    if (source.note) this.trace({ kind: 'error', time: clock.now(), side: 'primary', detail: source.note });
    this.setOutputCommit(config.outputCommit);
    this.stopTap = vm.onSerialOutput(CLIENT_PORT, (text) => this.onClientOutput(text));
    this.setCompare(config.compare);
    this.publish();
  }

  /** Compare mode on or off; on, replies the secondary matched leave without waiting for a checkpoint. */
  setCompare(compare: CompareConfig): void {
    this.compare = compare;
    this.stopCompareTimer();
    this.stopCompareTimer = compare.enabled ? this.clock.every(COMPARE_TICK_MS, () => this.checkOverdue()) : () => {};
  }

  checkpointNow(): void {
    this.input({ kind: 'checkpoint-due', cause: 'manual' });
  }

  /**
   * The state path changes at the next capture, and only if the mode needs the
   * other one (a new delta source starts again from a full copy); the resume
   * policy at the next resume decision.
   */
  setMode(mode: CheckpointMode, makeSource: () => StateSource): void {
    const wanted = mode === 'naive' ? 'full' : 'delta';
    if ((this.nextSource ?? this.source).path !== wanted) this.nextSource = makeSource();
    this.core.resumePolicy = resumePolicy(mode);
  }

  setPeriod(ms: number): void {
    this.periodMs = ms;
    if (this.core.phase === 'idle') this.armPeriod();
  }

  /** The host fenced or retired the secondary: held output may leave. */
  confirmAlone(): void {
    this.input({ kind: 'confirmed-alone' });
  }

  setOutputCommit(mode: 'hold' | 'unsafe'): void {
    if (mode === this.outputCommit) return;
    this.outputCommit = mode;
    if (mode === 'unsafe') this.release(this.output.releaseAll());
    // Out of COLO nothing is held any more, whatever the setting.
    else if (this.core.phase !== 'exited') this.output.hold();
  }

  /**
   * The host hands this primary's part over to a new pair (HostCore's
   * hand-over): the link closes without a word to the secondary, which keeps
   * the checkpoint it holds as the host's fallback; no checkpoint starts any
   * more, and one under way is given up (the core leaves COLO as if its
   * secondary were lost: nothing it covers was released). Once the VM runs
   * again (a capture under way ends first, bounded by its own watchdog), the
   * replies not yet released are returned, for the next driver to hold.
   */
  async handOver(): Promise<string[]> {
    this.handingOver = true;
    this.cancelPeriod();
    this.link.close();
    if (!this.coreWaitsForNothing()) {
      this.input({ kind: 'peer-lost', detail: `checkpoint ${this.core.checkpoint} given up: the host hands this primary over to a new secondary` });
    }
    if (!this.settled()) await new Promise<void>((resolve) => (this.settledListener = resolve));
    this.dispose();
    return this.output.heldLines();
  }

  /** This driver handed its part over: it does nothing more, and a new one may take the VM. */
  get handedOver(): boolean {
    return this.handingOver && this.settled();
  }

  /** No checkpoint under way: the VM runs, and the core waits for nothing of it. */
  private settled(): boolean {
    return !this.paused && this.coreWaitsForNothing();
  }

  /** The core is between checkpoints (or before the first, or out of COLO): no transaction is open. */
  private coreWaitsForNothing(): boolean {
    const { phase } = this.core;
    return phase === 'idle' || phase === 'exited' || phase === 'wait-ready';
  }

  private notifySettled(): void {
    const listener = this.settledListener;
    if (!listener || !this.settled()) return;
    this.settledListener = undefined;
    listener();
  }

  /** The client output of a line the VM has begun: it goes with the VM to its next role. */
  get lineStart(): string {
    return this.output.lineStart;
  }

  /** Simulated hang: the VM stops, nothing is sent or read, no timer fires. */
  freeze(): void {
    this.frozen = true;
    this.cancelPeriod();
    this.link.freeze();
    void this.vm.stop();
  }

  status(): DriverStatus {
    return {
      side: 'primary',
      role: 'primary',
      phase: this.core.phase,
      checkpoint: this.core.checkpoint,
      committed: this.core.received,
      failover: this.core.failover.status,
      exitReason: this.core.exitReason,
      exitDetail: this.core.exitDetail,
      heldOutputLines: this.output.heldCount,
      runsBetweenCheckpoints: false,
      heartbeatGaps: this.link.gaps,
    };
  }

  dispose(): void {
    this.cancelPeriod();
    this.stopCompareTimer();
    this.stopTap();
    this.link.close();
  }

  protected onMessage(message: ColoMessage, payload: ArrayBuffer | undefined): void {
    // The secondary hands the state buffer back with vmstate-loaded, for reuse.
    if (message.type === 'vmstate-loaded' && payload) this.source.recycle(payload);
    // A new secondary says what it holds: checkpoint 1 builds on a shared base, or is a full copy.
    if (message.type === 'checkpoint-ready' && this.core.phase === 'wait-ready') {
      // Choosing what checkpoint 1 builds on may clear a RAM-sized shadow.
      const sync = this.link.whileBusy(() => (this.nextSource ?? this.source).initialSync(message.base));
      this.trace({ kind: 'initial-sync', time: this.clock.now(), ...sync });
    }
    this.input({ kind: 'message', message });
  }

  protected input(input: PrimaryInput): void {
    if (this.handingOver && input.kind === 'checkpoint-due') return;
    const before = this.core.phase;
    const effects = this.core.handle(input);
    if (this.core.phase !== before) {
      this.trace({ kind: 'phase', time: this.clock.now(), side: 'primary', phase: this.core.phase, checkpoint: this.core.checkpoint });
    }
    for (const effect of effects) this.apply(effect);
    // Speculative mode resumed the VM at capture: the period starts at vmstate-loaded.
    if (this.core.phase === 'idle' && before !== 'idle' && !this.paused) this.armPeriod();
    this.publish();
    this.notifySettled();
  }

  private apply(effect: PrimaryEffect): void {
    switch (effect.kind) {
      case 'send': {
        const payload = effect.message.type === 'vmstate-size' ? this.captured : undefined;
        if (payload) this.captured = undefined;
        this.link.send(effect.message, payload);
        return;
      }
      case 'capture':
        this.cancelPeriod();
        void this.capture(effect.checkpoint, effect.cause);
        return;
      case 'resume':
        if (!this.frozen) void this.resume();
        return;
      case 'release':
        this.release(this.output.releaseUpTo(effect.upTo), effect.upTo);
        return;
      case 'release-all':
        this.release(this.output.releaseAll());
        return;
      case 'notify-peer-exit':
        this.link.sendExit(effect.detail);
        return;
      case 'exited':
        this.cancelPeriod();
        this.trace({ kind: 'exit', time: this.clock.now(), side: 'primary', reason: effect.reason, detail: effect.detail });
        this.trace({ kind: 'failover', time: this.clock.now(), side: 'primary', status: this.core.failover.status });
        this.link.end();
        return;
    }
  }

  private async capture(checkpoint: number, cause: CheckpointCause): Promise<void> {
    this.pauseStartedAt = this.clock.now();
    this.paused = true;
    if (this.nextSource) {
      this.source = this.nextSource;
      this.nextSource = undefined;
    }
    // A capture that never finishes would stall replication with heartbeats
    // still flowing (seen once in a soak run): it fails, and COLO ends cleanly.
    let cancelWatchdog = () => {};
    const watchdog = new Promise<never>((_, reject) => {
      cancelWatchdog = this.clock.after(CAPTURE_LIMIT_MS, () => reject(new Error(`the VM did not stop and save within ${CAPTURE_LIMIT_MS} ms`)));
    });
    watchdog.catch(() => {});
    let endBusy = () => {};
    try {
      await Promise.race([this.vm.stop(), watchdog]);
      // COLO may have ended while the VM was stopping (the secondary left, or
      // was lost): the core then let the VM run again, and that run came before
      // this stop took effect. The VM must run; there is nothing to capture.
      if (this.core.phase !== 'capturing' || this.core.checkpoint !== checkpoint) {
        if (!this.frozen) await this.resume();
        return;
      }
      const stopMs = this.clock.now() - this.pauseStartedAt;
      // Everything written before the stop is in this checkpoint.
      this.epoch = checkpoint + 1;
      // The capture blocks this thread (v86's whole save_state and its check: 1.1–1.7 s measured; a delta, milliseconds).
      endBusy = this.link.beginBusy(busyMsFor(this.source.expectedBytes ?? 0, this.busyMs));
      const { payload, header: stateHeader, pages, tracking, parts, checksumMs } = await Promise.race([this.source.capture(checkpoint), watchdog]);
      // The stopped VM's unfinished output line: the state holds its rest.
      const header = { ...stateHeader, inputAt: this.vm.clientInputConsumed(), lineStart: this.output.lineStart };
      this.captured = payload;
      const now = this.clock.now();
      this.trace({
        kind: 'capture',
        time: now,
        checkpoint,
        cause,
        pauseStartedAt: this.pauseStartedAt,
        bytes: header.bytes,
        captureMs: now - this.pauseStartedAt,
        stopMs,
        path: this.source.path,
        resumes: this.core.resumePolicy,
        ...(pages ? { pages } : {}),
        ...(tracking ? { tracking } : {}),
        ...(parts ? { parts } : {}),
        ...(checksumMs !== undefined ? { checksumMs } : {}),
      });
      this.input({ kind: 'captured', checkpoint, header });
    } catch (err) {
      this.input({ kind: 'capture-failed', checkpoint, error: (err as Error).message });
    } finally {
      endBusy();
      cancelWatchdog();
    }
  }

  private async resume(): Promise<void> {
    await this.vm.run();
    this.paused = false;
    const now = this.clock.now();
    this.trace({ kind: 'resume', time: now, side: 'primary', checkpoint: this.core.checkpoint, pausedMs: now - this.pauseStartedAt });
    if (this.core.phase === 'idle') this.armPeriod();
    this.notifySettled();
  }

  private armPeriod(): void {
    this.cancelPeriod();
    if (this.handingOver) return;
    this.cancelPeriod = this.clock.after(this.periodMs, () => this.input({ kind: 'checkpoint-due', cause: 'periodic' }));
  }

  private onClientOutput(text: string): void {
    const { held, released } = this.output.append(text, this.epoch, this.clock.now());
    if (held.length > 0) {
      this.trace({ kind: 'output', time: this.clock.now(), side: 'primary', state: 'held', lines: held.map((l) => l.text), checkpoint: this.epoch });
      this.publish();
    }
    this.release(released);
    // The secondary may have answered first.
    for (const line of held) if (line.verdict) this.judged(line);
    this.releaseMatched();
  }

  protected override onSvmOutput(lines: string[], from: number): void {
    if (!this.compare.enabled || this.core.phase === 'exited') return;
    for (const line of lines) {
      const mine = this.output.compare(line, from, this.clock.now());
      if (mine) this.judged(mine, line);
    }
    this.releaseMatched();
  }

  // Both queues time out, as in colo-compare: a reply the secondary never
  // wrote, and one the secondary wrote that the primary never did.
  private checkOverdue(): void {
    if (this.core.phase === 'exited') return;
    const now = this.clock.now();
    for (const line of this.output.overdue(now, this.compare.timeoutMs)) this.judged(line);
    for (const theirs of this.output.overdueSecondary(now, this.compare.timeoutMs)) {
      this.trace({ kind: 'compare', time: now, verdict: 'timeout', secondary: theirs.text, checkpoint: theirs.from + 1 });
      this.input({ kind: 'checkpoint-due', cause: 'timeout' });
    }
  }

  // A reply the VMs disagree on, or one the secondary never gave, means the
  // secondary's state went its own way: a checkpoint brings it back, and the
  // primary's reply leaves once that checkpoint is safe (vmstate-received).
  private judged(line: HeldLine, secondary?: string): void {
    const verdict = line.verdict ?? 'timeout';
    this.trace({
      kind: 'compare',
      time: this.clock.now(),
      verdict,
      primary: line.text,
      ...(secondary === undefined ? {} : { secondary }),
      checkpoint: line.epoch,
    });
    if (verdict !== 'match') this.input({ kind: 'checkpoint-due', cause: verdict });
  }

  private releaseMatched(): void {
    const lines = this.output.releaseMatched();
    if (lines.length === 0) return;
    this.release(lines.map((l) => l.text));
    this.publish();
  }

  private release(lines: string[], checkpoint?: number): void {
    if (lines.length === 0) return;
    this.trace({ kind: 'output', time: this.clock.now(), side: 'primary', state: 'released', lines, ...(checkpoint ? { checkpoint } : {}) });
    this.emit({ type: 'released', lines });
  }

  private publish(): void {
    this.emit({ type: 'status', status: this.status() });
  }
}
