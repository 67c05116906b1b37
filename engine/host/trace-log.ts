// The merged trace of both workers and the host. Batches from the two workers
// interleave, so events are kept in time order; a long run keeps only the
// recent ones, so the page's memory stays flat.
import type { Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';

/** About 15 minutes of checkpoints once a second. */
const TRACE_LIMIT = 20_000;

export class TraceLog {
  /** The most recent events (up to `limit`), in time order. */
  readonly events: TraceEvent[] = [];
  /** How many events were dropped from the front, so readers can keep an absolute position. */
  dropped = 0;

  constructor(private readonly limit = TRACE_LIMIT) {}

  record(event: TraceEvent): void {
    const trace = this.events;
    let at = trace.length;
    while (at > 0 && (trace[at - 1]?.time ?? 0) > event.time) at--;
    trace.splice(at, 0, event);
    if (trace.length > this.limit) {
      const drop = trace.length - this.limit + this.limit / 4;
      trace.splice(0, drop);
      this.dropped += drop;
    }
  }
}

/** How far back heartbeat times are kept: the timeline's widest window. */
const BEATS_KEPT_MS = 65_000;

/** When each role's PC sent its heartbeats, over the last minute or so: for drawing them. */
export class HeartbeatLog {
  private readonly beats: Record<Side, number[]> = { primary: [], secondary: [] };

  sent(side: Side): readonly number[] {
    return this.beats[side];
  }

  record(side: Side, sent: readonly number[]): void {
    const beats = this.beats[side];
    beats.push(...sent);
    const keepFrom = (sent.at(-1) ?? 0) - BEATS_KEPT_MS;
    if ((beats[0] ?? Infinity) < keepFrom - BEATS_KEPT_MS / 4)
      beats.splice(
        0,
        beats.findIndex((t) => t >= keepFrom),
      );
  }
}
