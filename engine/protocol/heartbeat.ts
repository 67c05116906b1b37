// Failure detection: a peer is gone once this side has sent `missLimit`
// heartbeats in a row without hearing anything back. Any message counts as a
// sign of life. Counting this side's own beats, not wall time, means a pause
// of this side (a long capture, a busy thread) is not taken for the peer's death.
// A worker has one thread: while the peer captures or loads a checkpoint it
// cannot beat, so for that step of the handshake the peer is allowed a longer
// silence (detection is fast between checkpoints, slower inside one).
// Time comes in as an argument.

export interface HeartbeatConfig {
  intervalMs: number;
  missLimit: number;
  /** How long a peer busy with its part of a checkpoint may stay silent on top of the miss limit. */
  busyMs: number;
}

export class HeartbeatMonitor {
  private lastHeard: number;
  private missed = 0;
  private heardOnce = false;
  /** Beats of silence allowed beyond missLimit while the peer is known busy. */
  private allowance = 0;
  /** The longest silence of the peer so far, between two things heard from it: what a setting must outlast. */
  longestSilenceMs = 0;

  constructor(
    private readonly config: Pick<HeartbeatConfig, 'intervalMs' | 'missLimit'>,
    now: number,
  ) {
    this.lastHeard = now;
  }

  heard(now: number): void {
    if (this.heardOnce) this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastHeard);
    this.heardOnce = true;
    this.lastHeard = Math.max(this.lastHeard, now);
    this.missed = 0;
  }

  /** Called at each of this side's heartbeats; true once the peer counts as lost. */
  beat(): boolean {
    this.missed += 1;
    return this.missed > this.config.missLimit + this.allowance;
  }

  /** The peer's silence so far was reported: count missed beats afresh (the silence itself goes on counting). */
  rearm(): void {
    this.missed = 0;
  }

  /** The peer is busy with a step of the handshake for up to `ms` (0: no longer): its silence counts only after that. */
  peerBusy(ms: number): void {
    this.allowance = Math.ceil(ms / this.config.intervalMs);
  }

  silentMs(now: number): number {
    return now - this.lastHeard;
  }
}
