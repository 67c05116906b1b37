// The last checkpoint as a ladder: every message and step of one transaction,
// in order, with its time since checkpoint-request, so the timeline's crowded
// 100 ms can be read line by line.
import { COLO_MESSAGE_TYPES, type ColoMessageType, type Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { MESSAGE_MEANING } from '../explain.ts';
import { h } from '../dom.ts';
import { formatBytes, formatMs } from '../format.ts';

const CLOCK_SKEW_MS = 5;

export class Ladder {
  readonly root: HTMLElement;
  private readonly title: HTMLElement;
  private readonly list: HTMLOListElement;
  private shown = '';

  constructor(private readonly names: Readonly<Record<Side, string>>) {
    this.title = h('h3', { text: 'Last checkpoint, step by step' });
    this.list = h('ol', { class: 'ladder' });
    this.root = h('div', { class: 'ladder-box' }, this.title, this.list);
  }

  render(trace: readonly TraceEvent[]): void {
    // A checkpoint starts when its request leaves, or is held at the gate in step mode.
    const request = trace.findLast(
      (e) => (e.kind === 'message' && e.at === 'sent' && e.type === 'checkpoint-request') || (e.kind === 'held' && e.type === 'checkpoint-request'),
    );
    if (!request || (request.kind !== 'message' && request.kind !== 'held') || request.checkpoint === undefined) return;
    const n = request.checkpoint;
    // The workers' clocks differ by a fraction of a millisecond: the peer may
    // have stamped its receipt of the request just before the request's own stamp.
    let start = trace.indexOf(request);
    while (start > 0 && (trace[start - 1]?.time ?? -Infinity) >= request.time - CLOCK_SKEW_MS) start--;
    const steps = causalOrder(trace.slice(start).filter((e) => describes(e, n)));
    const key = `${n}:${steps.length}:${trace.length - start}`;
    if (key === this.shown) return;
    this.shown = key;
    this.title.textContent = `Checkpoint #${n}, step by step`;
    this.list.dataset.checkpoint = String(n);
    this.list.dataset.messages = String(steps.filter((e) => e.kind === 'message').length);
    // The next message a Step would release: the oldest held one not yet sent.
    const after = trace.slice(start);
    const sent = new Set(after.flatMap((e) => (e.kind === 'message' && e.at === 'sent' && e.checkpoint === n ? [e.type] : [])));
    const waiting = after.find((e) => e.kind === 'held' && e.checkpoint === n && !sent.has(e.type));
    this.list.dataset.waiting = waiting?.kind === 'held' ? waiting.type : '';
    this.list.replaceChildren(
      ...steps.map((e) => h('li', { title: e.kind === 'message' ? MESSAGE_MEANING[e.type] : '' }, h('span', { class: 'at', text: `+${formatMs(e.time - request.time)}` }), line(e, this.names))),
    );
  }
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

function line(e: TraceEvent, names: Readonly<Record<Side, string>>): string {
  switch (e.kind) {
    case 'message':
      return `${names[e.from]} → ${names[e.to]}  ${e.type}${e.bytes ? ` (${formatBytes(e.bytes)})` : ''}`;
    case 'capture':
      return `${names.primary} stopped (${e.cause}) and captured ${formatBytes(e.bytes)} in ${formatMs(e.captureMs)}`;
    case 'load':
      return `${names.secondary} ${e.ok ? 'loaded' : 'FAILED to load'} the state in ${formatMs(e.loadMs)}`;
    case 'resume':
      return `${names.primary} resumed after a pause of ${formatMs(e.pausedMs)}`;
    case 'held':
      return `${names[e.side]} holds ${e.type} at the gate (step mode or a breakpoint)`;
    case 'output':
      return `${names.primary} released ${e.lines.length} client repl${e.lines.length === 1 ? 'y' : 'ies'}: ${e.lines.join(', ')}`;
    default:
      return '';
  }
}
