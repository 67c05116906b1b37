// Failure detection: a peer is gone once this side has sent `missLimit`
// heartbeats in a row without hearing anything back. Any message counts as a
// sign of life. Counting this side's own beats, not wall time, means a pause
// of this side (a long capture, a busy thread) is not taken for the peer's death.
// Time comes in as an argument.

export interface HeartbeatConfig {
  intervalMs: number;
  missLimit: number;
}

export class HeartbeatMonitor {
  private lastHeard: number;
  private missed = 0;

  constructor(
    private readonly config: HeartbeatConfig,
    now: number,
  ) {
    this.lastHeard = now;
  }

  heard(now: number): void {
    this.lastHeard = Math.max(this.lastHeard, now);
    this.missed = 0;
  }

  /** Called at each of this side's heartbeats; true once the peer counts as lost. */
  beat(): boolean {
    this.missed += 1;
    return this.missed > this.config.missLimit;
  }

  silentMs(now: number): number {
    return now - this.lastHeard;
  }
}
