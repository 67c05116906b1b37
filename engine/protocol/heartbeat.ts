// Failure detection: a peer that has sent nothing for `missLimit` intervals is
// gone. Any message counts as a sign of life. Time comes in as an argument.

export interface HeartbeatConfig {
  intervalMs: number;
  missLimit: number;
}

export class HeartbeatMonitor {
  private lastHeard: number;

  constructor(
    private readonly config: HeartbeatConfig,
    now: number,
  ) {
    this.lastHeard = now;
  }

  heard(now: number): void {
    this.lastHeard = Math.max(this.lastHeard, now);
  }

  silentMs(now: number): number {
    return now - this.lastHeard;
  }

  isLost(now: number): boolean {
    return this.silentMs(now) > this.config.intervalMs * this.config.missLimit;
  }
}
