// Failure detection: a peer is gone once this side has sent `missLimit`
// heartbeats in a row without hearing anything back. Any message counts as a
// sign of life. Counting this side's own beats, not wall time, means a pause
// of this side (a long capture, a busy thread) is not taken for the peer's death.
// A worker has one thread: while the peer captures or loads a checkpoint it
// cannot beat, so a side about to block says so first (a heartbeat with
// `busyMs`, and every heartbeat until that work is done), and its silence
// after such a message may be longer by as much (detection is fast between
// checkpoints, slower inside one). The peer announces it, not this side
// guesses it from the handshake: any step that blocks is covered, the first
// checkpoint's preparation included.
// Time comes in as an argument.

export interface HeartbeatConfig {
  intervalMs: number;
  missLimit: number;
  /** How long a side about to block its thread (its part of a checkpoint) announces it may stay silent, on top of the miss limit. */
  busyMs: number;
}

export class HeartbeatMonitor {
  private lastHeard: number;
  private missed = 0;
  private heardOnce = false;
  /** Beats of silence allowed beyond missLimit: the peer said it is busy. */
  private allowance = 0;
  /** How long the peer said, with the last thing heard from it, that it would be busy. */
  private announcedMs = 0;
  /** The longest silence of the peer so far, between two things heard from it: what a setting must outlast. */
  longestSilenceMs = 0;

  constructor(
    private readonly config: Pick<HeartbeatConfig, 'intervalMs' | 'missLimit'>,
    now: number,
  ) {
    this.lastHeard = now;
  }

  /** Something came from the peer; `busyMs`: it announced it blocks for up to that long now (0: it does not). */
  heard(now: number, busyMs = 0): void {
    if (this.heardOnce) this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastHeard);
    this.heardOnce = true;
    this.lastHeard = Math.max(this.lastHeard, now);
    this.missed = 0;
    this.announcedMs = busyMs;
    this.allowance = Math.ceil(busyMs / this.config.intervalMs);
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

  silentMs(now: number): number {
    return now - this.lastHeard;
  }

  /** The peer's silence beyond the busy time it announced: what a judgement of the link may count. */
  overdueMs(now: number): number {
    return Math.max(0, this.silentMs(now) - this.announcedMs);
  }

  /** The busy time the peer announced with the last thing heard from it (0: none). */
  get announcedBusyMs(): number {
    return this.announcedMs;
  }
}
