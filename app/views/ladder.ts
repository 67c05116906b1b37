// A checkpoint as a ladder: every message and step of one transaction, in
// order, with its time since checkpoint-request, so the timeline's crowded
// 100 ms can be read line by line. It shows the checkpoint of the moment the
// timeline shows: the last one, or any kept one when the view went back.
import { COLO_MESSAGE_TYPES, type ColoMessageType, type Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { MESSAGE_MEANING } from '../explain.ts';
import { h } from '../dom.ts';
import { formatBytes, formatMs } from '../format.ts';
import { firstAtOrAfter, isCheckpointStart, REPORT_LAG_MS } from './timeline-model.ts';

const CLOCK_SKEW_MS = 5;

export class Ladder {
  readonly root: HTMLElement;
  private readonly title: HTMLElement;
  private readonly list: HTMLOListElement;
  private shown = '';
  /**
   * When the checkpoint shown started, if only its secondary's reading of the
   * request tells (its primary died with its last reports): one more start
   * than the primary reported, for stepping through checkpoints.
   */
  unreportedStart: number | undefined;

  constructor(private readonly names: Readonly<Record<Side, string>>) {
    this.title = h('h3', { text: 'Last checkpoint, step by step' });
    this.list = h('ol', { class: 'ladder' });
    this.root = h('div', { class: 'ladder-box' }, this.title, this.list);
  }

  /** Shows the checkpoint under way at `moment`, as far as it had got by then. */
  render(trace: readonly TraceEvent[], moment = Infinity): void {
    const end = firstAtOrAfter(trace, moment, true);
    let requestAt = findLastIndexBefore(trace, end, isCheckpointStart);
    // Or, if the host never heard a later one leave (the primary died with its last reports), when the secondary read it.
    const isRead = (e: TraceEvent) => e.kind === 'message' && e.at === 'received' && e.type === 'checkpoint-request';
    const readAt = findLastIndexBefore(trace, end, isRead);
    const unreported = readAt > requestAt && neverReportedSent(trace, readAt);
    if (unreported) requestAt = readAt;
    const request = trace[requestAt];
    this.unreportedStart = unreported ? request?.time : undefined;
    if (!request || (request.kind !== 'message' && request.kind !== 'held') || request.checkpoint === undefined) {
      if (this.shown === 'none') return;
      this.shown = 'none';
      this.title.textContent = 'No checkpoint had begun by this moment';
      this.list.dataset.checkpoint = '';
      this.list.replaceChildren();
      return;
    }
    const n = request.checkpoint;
    // The workers' clocks differ by a fraction of a millisecond: the peer may
    // have stamped its receipt of the request just before the request's own stamp.
    let start = requestAt;
    while (start > 0 && (trace[start - 1]?.time ?? -Infinity) >= request.time - CLOCK_SKEW_MS) start--;
    // Replies the primary held for this checkpoint came before its request: since the one before.
    const previous = findLastIndexBefore(trace, start, isCheckpointStart);
    const held = trace.slice(Math.max(0, previous), start).filter((e) => e.kind === 'output' && e.state === 'held' && e.checkpoint === n);
    const after = trace.slice(start, end);
    const steps = [...held, ...causalOrder(after.filter((e) => describes(e, n)))];
    const key = `${n}:${request.time}:${steps.length}:${after.length}:${unreported}`;
    if (key === this.shown) return;
    this.shown = key;
    this.title.textContent = `Checkpoint #${n}, step by step`;
    this.list.dataset.checkpoint = String(n);
    this.list.dataset.messages = String(steps.filter((e) => e.kind === 'message').length);
    // The next message a Step would release: the oldest held one not yet sent.
    const sent = new Set(after.flatMap((e) => (e.kind === 'message' && e.at === 'sent' && e.checkpoint === n ? [e.type] : [])));
    const waiting = after.find((e) => e.kind === 'held' && e.checkpoint === n && !sent.has(e.type));
    this.list.dataset.waiting = waiting?.kind === 'held' ? waiting.type : '';
    const lost = unreported
      ? [
          h('li', {
            class: 'lost',
            text: `${this.names.primary}'s own reports of this checkpoint died with it: only what ${this.names.secondary} reported is shown.`,
          }),
        ]
      : [];
    this.list.replaceChildren(
      ...lost,
      ...steps.map((e) =>
        h(
          'li',
          { title: e.kind === 'message' ? MESSAGE_MEANING[e.type] : '' },
          h('span', { class: 'at', text: offset(e.time - request.time) }),
          line(e, this.names),
        ),
      ),
    );
  }
}

/** The last index before `end` whose event passes `test`, or -1. */
function findLastIndexBefore(trace: readonly TraceEvent[], end: number, test: (e: TraceEvent) => boolean): number {
  for (let i = end - 1; i >= 0; i--) if (test(trace[i] as TraceEvent)) return i;
  return -1;
}

/**
 * The request read at `readAt` was never reported sent: no send of it near its
 * receipt (the two workers' clocks differ, so its send may be stamped just
 * after), and the report is overdue (reports reach the host in either order).
 */
function neverReportedSent(trace: readonly TraceEvent[], readAt: number): boolean {
  const read = trace[readAt];
  if (read?.kind !== 'message' || (trace.at(-1)?.time ?? 0) - read.time <= REPORT_LAG_MS) return false;
  const isItsSend = (e: TraceEvent) => e.kind === 'message' && e.at === 'sent' && e.type === 'checkpoint-request' && e.checkpoint === read.checkpoint;
  for (let i = readAt - 1; i >= 0 && (trace[i] as TraceEvent).time >= read.time - REPORT_LAG_MS; i--) if (isItsSend(trace[i] as TraceEvent)) return false;
  for (let i = readAt + 1; i < trace.length && (trace[i] as TraceEvent).time <= read.time + REPORT_LAG_MS; i++)
    if (isItsSend(trace[i] as TraceEvent)) return false;
  return true;
}

// The two workers' clocks can disagree by a fraction of a millisecond, but the
// messages of one checkpoint happen in the protocol's order: no message is
// placed before the one that caused it.
function causalOrder(steps: TraceEvent[]): TraceEvent[] {
  let floor = -Infinity;
  const order = (e: TraceEvent) => (e.kind === 'message' ? COLO_MESSAGE_TYPES.indexOf(e.type as ColoMessageType) : -1);
  const messages = steps.filter((e) => e.kind === 'message').sort((a, b) => order(a) - order(b));
  const adjusted = new Map<TraceEvent, number>();
  for (const m of messages) {
    floor = Math.max(floor, m.time);
    adjusted.set(m, floor);
  }
  return [...steps].sort((a, b) => (adjusted.get(a) ?? a.time) - (adjusted.get(b) ?? b.time));
}

function describes(e: TraceEvent, n: number): boolean {
  switch (e.kind) {
    // A message when its sender acted: the secondary sends vmstate-received, then loads.
    case 'message':
      return e.at === 'sent' && e.checkpoint === n;
    case 'capture':
    case 'load':
      return e.checkpoint === n;
    case 'resume':
      return e.side === 'primary' && e.checkpoint === n;
    case 'held':
      return e.checkpoint === n;
    case 'output':
      return e.state === 'released' && e.checkpoint === n;
    default:
      return false;
  }
}

/** The disk part a checkpoint carries, where the VM has a disk. */
function diskPart(pages: { disk?: number; diskWhole?: boolean } | undefined): string {
  const n = pages?.disk;
  if (n === undefined || (n === 0 && !pages?.diskWhole)) return '';
  const counted = `${n} disk page${n === 1 ? '' : 's'}`;
  return pages?.diskWhole ? `, the whole disk among it (${counted} not all zeros)` : `, ${counted} the guest wrote among it`;
}

/** Time since the checkpoint's request; replies held for it come before. */
function offset(ms: number): string {
  return ms < 0 ? `−${formatMs(-ms)}` : `+${formatMs(ms)}`;
}

function line(e: TraceEvent, names: Readonly<Record<Side, string>>): string {
  switch (e.kind) {
    case 'message':
      return `${names[e.from]} → ${names[e.to]}  ${e.type}${e.bytes ? ` (${formatBytes(e.bytes)})` : ''}`;
    case 'capture':
      return `${names.primary} stopped (${e.cause}) and captured ${formatBytes(e.bytes)} in ${formatMs(e.captureMs)}${diskPart(e.pages)}`;
    case 'load':
      return `${names.secondary} ${e.ok ? 'loaded' : 'FAILED to load'} the state in ${formatMs(e.loadMs)}`;
    case 'resume':
      return `${names.primary} resumed after a pause of ${formatMs(e.pausedMs)}`;
    case 'held':
      return `${names[e.side]} holds ${e.type} back (step mode or “Stop before”) until Step ▶`;
    case 'output':
      if (e.state === 'held')
        return `${names.primary} held ${e.lines.length} client repl${e.lines.length === 1 ? 'y' : 'ies'} until this checkpoint is safe: ${e.lines.join(', ')}`;
      return `${names.primary} released ${e.lines.length} client repl${e.lines.length === 1 ? 'y' : 'ies'}: ${e.lines.join(', ')}`;
    default:
      return '';
  }
}
