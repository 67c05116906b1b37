// What the protocol timeline shows, as data: every mark in a time window
// (messages paired from their send to their receipt, the primary's pauses,
// the secondary's loads, host actions, takeovers, held messages, client
// output), each with a stable id so a view can update it in place, and the
// label layout that keeps labels apart and inside the drawing. No DOM here.
import type { Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { causeMeaning, MESSAGE_MEANING, PHASE_MEANING } from '../explain.ts';
import { formatBytes, formatMs } from '../format.ts';

type MessageEvent = TraceEvent & { kind: 'message' };

/** How far apart two workers' clocks may be when pairing a message's send and receipt. */
const CLOCK_SKEW_MS = 50;
/** Events this long before the window are read too: a pause or a message may reach into it. */
const MARGIN_MS = 10_000;
/**
 * A receipt whose send is still unknown this long after it came was sent by a
 * PC whose last reports never reached the host (it was killed with them): the
 * two workers' reports otherwise arrive well within this.
 */
export const REPORT_LAG_MS = 1000;

/** Where a mark's label goes: above the primary's lane (host actions, causes), or between the lanes (messages). */
export type LabelBand = 'host' | 'cause' | 'message';

export interface Mark {
  /** The same for the same event in every frame. */
  id: string;
  kind: 'message' | 'pause' | 'load' | 'host' | 'takeover' | 'held' | 'output';
  t0: number;
  t1: number;
  /** The lane it starts on, and the one it ends on (the same but for messages). */
  from: Side;
  to: Side;
  /** A message not yet read: drawn halfway towards its receiver. */
  inFlight: boolean;
  /** A style name: the message type, the bar kind, the host action… */
  style: string;
  label?: { text: string; band: LabelBand };
  /** What it is and why it exists, for the detail panel. */
  text: string;
  event: TraceEvent;
}

/** A checkpoint starts when its request leaves, or is held back (step mode, "Stop before"). */
export function isCheckpointStart(e: TraceEvent): e is TraceEvent & { kind: 'message' | 'held' } {
  return ((e.kind === 'message' && e.at === 'sent') || e.kind === 'held') && e.type === 'checkpoint-request';
}

/** When each checkpoint in the trace started, as reported by its primary (a request held and then sent starts one). */
export function checkpointStarts(trace: readonly TraceEvent[]): number[] {
  const starts: number[] = [];
  let last: number | undefined;
  for (const e of trace) {
    if (!isCheckpointStart(e)) continue;
    if (e.checkpoint !== last) starts.push(e.time);
    last = e.checkpoint;
  }
  return starts;
}

/** Index of the first event at or after `time` (`after`: strictly after it); the trace is in time order. */
export function firstAtOrAfter(trace: readonly TraceEvent[], time: number, after = false): number {
  let lo = 0;
  let hi = trace.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = trace[mid]?.time ?? 0;
    if (t < time || (after && t === time)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The marks of `trace` that reach into [start, end]. */
export function marksIn(trace: readonly TraceEvent[], start: number, end: number, names: Readonly<Record<Side, string>>): Mark[] {
  const recent = trace.slice(firstAtOrAfter(trace, start - MARGIN_MS));
  const visible = (t0: number, t1: number) => t1 >= start && t0 <= end;
  const marks: Mark[] = [];
  const point = (event: TraceEvent, side: Side) => ({ t0: event.time, t1: event.time, from: side, to: side, inFlight: false, event });
  for (const [index, event] of recent.entries()) {
    switch (event.kind) {
      case 'capture': {
        const until = pauseEnd(recent, index) ?? end;
        if (!visible(event.pauseStartedAt, until)) break;
        const cause = event.cause === 'periodic' ? undefined : { text: event.cause, band: 'cause' as const };
        marks.push({
          id: `pause:${event.checkpoint}:${event.pauseStartedAt}`,
          kind: 'pause',
          ...point(event, 'primary'),
          t0: event.pauseStartedAt,
          t1: until,
          style: event.cause === 'periodic' ? 'pause' : `pause cause-${event.cause}`,
          ...(cause ? { label: cause } : {}),
          text: `Primary paused for checkpoint #${event.checkpoint} (${event.cause}: ${causeMeaning(event.cause)}): ${formatMs(until - event.pauseStartedAt)}. ${PHASE_MEANING.pause}`,
        });
        break;
      }
      case 'load':
        if (!visible(event.time - event.loadMs, event.time)) break;
        marks.push({
          id: `load:${event.checkpoint}:${event.time}`,
          kind: 'load',
          ...point(event, 'secondary'),
          t0: event.time - event.loadMs,
          style: event.ok ? 'load' : 'load-failed',
          text: `Secondary loading checkpoint #${event.checkpoint}: ${formatMs(event.loadMs)}${event.ok ? '' : ' — FAILED'}. ${PHASE_MEANING.load}`,
        });
        break;
      case 'host':
        if (!visible(event.time, event.time)) break;
        marks.push({
          id: `host:${event.action}:${event.time}`,
          kind: 'host',
          ...point(event, 'primary'),
          to: 'secondary',
          style: event.action,
          label: { text: event.action, band: 'host' },
          text: `Host: ${event.action} — ${event.detail}`,
        });
        break;
      case 'takeover':
        if (!visible(event.time, event.time)) break;
        marks.push({
          id: `takeover:${event.time}`,
          kind: 'takeover',
          ...point(event, 'secondary'),
          style: 'takeover',
          text: `The secondary took over, resuming from checkpoint #${event.from}: it is now the primary, and its replies go straight to the client.`,
        });
        break;
      case 'held':
        if (!visible(event.time, event.time)) break;
        marks.push({
          id: `held:${event.side}:${event.type}:${event.time}`,
          kind: 'held',
          ...point(event, event.side),
          style: 'held',
          text: `${event.type} is held back (step mode or “Stop before”) until you release it with Step ▶.`,
        });
        break;
      case 'output':
        if (!visible(event.time, event.time)) break;
        marks.push({
          id: `output:${event.side}:${event.state}:${event.time}:${event.lines[0] ?? ''}`,
          kind: 'output',
          ...point(event, event.side),
          style: `output-${event.state}`,
          text: `${event.lines.length} client repl${event.lines.length === 1 ? 'y' : 'ies'} ${event.state === 'held' ? `held until checkpoint #${event.checkpoint} is safe` : 'released to the client'}: ${event.lines.join(' | ')}`,
        });
        break;
      default:
        break;
    }
  }
  marks.push(...messageMarks(recent, end, visible, names));
  return marks;
}

// A pause ends when the primary resumes, or when it stops being a primary at
// all (killed, frozen, out of COLO, replaced): a dead primary is not paused
// forever. Searched from the capture on (every frame, for every pause drawn).
function pauseEnd(trace: readonly TraceEvent[], captureAt: number): number | undefined {
  const capture = trace[captureAt];
  if (capture?.kind !== 'capture') return undefined;
  for (let i = captureAt + 1; i < trace.length; i++) {
    const e = trace[i];
    if (!e) break;
    if (
      (e.kind === 'resume' && e.checkpoint === capture.checkpoint) ||
      (e.kind === 'exit' && e.side === 'primary') ||
      (e.kind === 'host' && (e.action === 'kill-primary' || e.action === 'freeze-primary' || e.action === 'primary-changed'))
    ) {
      return e.time;
    }
  }
  return undefined;
}

function messageMarks(recent: readonly TraceEvent[], end: number, visible: (t0: number, t1: number) => boolean, names: Readonly<Record<Side, string>>): Mark[] {
  const messages = recent.filter((e): e is MessageEvent => e.kind === 'message');
  // Receipts by what they answer, oldest first: each send takes the first one it can.
  const key = (m: MessageEvent) => `${m.from}:${m.type}:${m.checkpoint ?? ''}`;
  const receipts = new Map<string, MessageEvent[]>();
  for (const m of messages) {
    if (m.at !== 'received') continue;
    const list = receipts.get(key(m));
    if (list) list.push(m);
    else receipts.set(key(m), [m]);
  }
  const marks: Mark[] = [];
  for (const sent of messages) {
    if (sent.at !== 'sent') continue;
    const waiting = receipts.get(key(sent)) ?? [];
    const index = waiting.findIndex((r) => r.time >= sent.time - CLOCK_SKEW_MS);
    const received = index === -1 ? undefined : waiting.splice(index, 1)[0];
    const t1 = received?.time ?? end;
    if (!visible(sent.time, t1)) continue;
    marks.push({
      id: `message:${sent.from}:${sent.type}:${sent.checkpoint ?? ''}:${sent.time}`,
      kind: 'message',
      t0: sent.time,
      t1,
      from: sent.from,
      to: sent.to,
      inFlight: received === undefined,
      style: sent.type,
      label: { text: `${sent.type}${sent.checkpoint ? ` #${sent.checkpoint}` : ''}${sent.bytes ? ` ${formatBytes(sent.bytes)}` : ''}`, band: 'message' },
      text: describeMessage(sent, received, names),
      event: sent,
    });
  }
  // What the peer read, though the host never heard it sent: drawn at its receipt.
  for (const received of [...receipts.values()].flat()) {
    if (received.time > end - REPORT_LAG_MS || !visible(received.time, received.time)) continue;
    marks.push({
      id: `message:${received.from}:${received.type}:${received.checkpoint ?? ''}:received:${received.time}`,
      kind: 'message',
      t0: received.time,
      t1: received.time,
      from: received.from,
      to: received.to,
      inFlight: false,
      style: `${received.type} unreported`,
      label: { text: `${received.type}${received.checkpoint ? ` #${received.checkpoint}` : ''}`, band: 'message' },
      text: `${received.type}${received.checkpoint ? ` for checkpoint #${received.checkpoint}` : ''} from the ${received.from} (${names[received.from]}), read by the ${received.to}; when it left is unknown: the sender's last reports were lost with it. ${MESSAGE_MEANING[received.type]}`,
      event: received,
    });
  }
  return marks;
}

function describeMessage(sent: MessageEvent, received: MessageEvent | undefined, names: Readonly<Record<Side, string>>): string {
  const flight = received ? `in flight ${formatMs(received.time - sent.time)}` : 'still in flight';
  const size = sent.bytes ? `, ${formatBytes(sent.bytes)} moved` : '';
  return `${sent.type}${sent.checkpoint ? ` for checkpoint #${sent.checkpoint}` : ''} from the ${sent.from} (${names[sent.from]}, ${flight}${size}). ${MESSAGE_MEANING[sent.type]}`;
}

export interface LabelRequest {
  id: string;
  band: LabelBand;
  /** Where the label would like to start, and its width, in pixels. */
  x: number;
  width: number;
}

export interface PlacedLabel {
  x: number;
  row: number;
}

/** Gap kept between two labels on one row. */
const LABEL_GAP = 4;

/**
 * Places each label on the first row of its band where it overlaps no label
 * placed before it, moved left if needed to end inside [left, right]; a label
 * with no free row is left out (the ladder and the detail panel name
 * everything). Labels placed in the previous frame (`previous`) go first and
 * keep their row where they still fit, so a label does not jump when one
 * arrives late beside it (a worker's events reach the host in batches).
 */
export function placeLabels(
  requests: readonly LabelRequest[],
  left: number,
  right: number,
  rows: Readonly<Record<LabelBand, number>>,
  previous: ReadonlyMap<string, PlacedLabel> = new Map(),
): Map<string, PlacedLabel> {
  const taken: Record<LabelBand, [number, number][][]> = { host: [], cause: [], message: [] };
  const placed = new Map<string, PlacedLabel>();
  const fits = (band: LabelBand, row: number, x: number, width: number) =>
    !(taken[band][row] ?? []).some(([a, b]) => x < b + LABEL_GAP && a < x + width + LABEL_GAP);
  const take = (request: LabelRequest, x: number, row: number) => {
    (taken[request.band][row] ??= []).push([x, x + request.width]);
    placed.set(request.id, { x, row });
  };
  const byX = [...requests].filter((r) => r.width <= right - left).sort((a, b) => a.x - b.x);
  const xOf = (request: LabelRequest) => Math.max(left, Math.min(request.x, right - request.width));
  for (const request of byX) {
    const before = previous.get(request.id);
    if (before && before.row < rows[request.band] && fits(request.band, before.row, xOf(request), request.width)) take(request, xOf(request), before.row);
  }
  for (const request of byX) {
    if (placed.has(request.id)) continue;
    const x = xOf(request);
    for (let row = 0; row < rows[request.band]; row++) {
      if (!fits(request.band, row, x, request.width)) continue;
      take(request, x, row);
      break;
    }
  }
  return placed;
}
