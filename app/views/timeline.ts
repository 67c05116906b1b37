// The protocol timeline: a lane per PC, every COLO message drawn from its
// sender's lane when it left to its receiver's lane when it was read, the
// primary's pauses and the secondary's loads as bars, host actions as marks.
// Click (or Enter on) anything to read what it is and why it exists.
import type { Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { causeMeaning, MESSAGE_MEANING, PHASE_MEANING } from '../explain.ts';
import { formatBytes, formatMs, h, svg } from '../dom.ts';
import { Ladder } from './ladder.ts';

type MessageEvent = TraceEvent & { kind: 'message' };

const HEIGHT = 190;
const LANE: Record<Side, number> = { primary: 55, secondary: 150 };
const LEFT = 70;
const MARGIN_MS = 10_000;
const LABEL_GAP_PX = 150;
/** How far apart two workers' clocks may be when pairing a message's send and receipt. */
const CLOCK_SKEW_MS = 50;
const LABEL_ROWS = 6;

function firstAtOrAfter(trace: readonly TraceEvent[], time: number): number {
  let lo = 0;
  let hi = trace.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((trace[mid]?.time ?? 0) < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Timeline {
  readonly root: HTMLElement;
  private readonly canvas: SVGSVGElement;
  private readonly details: HTMLElement;
  private readonly ladder: Ladder;
  private windowMs = 8000;
  private frozenAt: number | undefined;

  constructor(
    private readonly trace: readonly TraceEvent[],
    private readonly names: Readonly<Record<Side, string>>,
  ) {
    this.ladder = new Ladder(names);
    this.canvas = svg('svg', { class: 'timeline', height: HEIGHT, role: 'img', 'aria-label': 'COLO protocol timeline' });
    this.details = h('div', { class: 'details', 'aria-live': 'polite' }, h('p', { text: 'Click a message, a bar or a mark to see what it is.' }));
    const pause = h('button', { type: 'button', 'data-action': 'timeline-pause', 'aria-pressed': 'false', text: 'Pause view' });
    pause.addEventListener('click', () => {
      this.frozenAt = this.frozenAt === undefined ? performance.timeOrigin + performance.now() : undefined;
      pause.setAttribute('aria-pressed', String(this.frozenAt !== undefined));
      pause.textContent = this.frozenAt === undefined ? 'Pause view' : 'Follow live';
    });
    const zoom = h('select', { 'aria-label': 'timeline window' },
      ...[4000, 8000, 20000, 60000].map((ms) => h('option', { value: ms, selected: ms === this.windowMs, text: `last ${ms / 1000} s` })));
    zoom.addEventListener('change', () => (this.windowMs = Number(zoom.value)));
    this.root = h(
      'section',
      { class: 'timeline-panel', 'aria-labelledby': 'timeline-title' },
      h('header', {}, h('h2', { id: 'timeline-title', text: 'Protocol timeline' }), pause, zoom),
      this.canvas,
      h('div', { class: 'timeline-lower' }, this.ladder.root, this.details),
    );
  }

  render(): void {
    const width = Math.max(300, this.canvas.clientWidth || 800);
    const now = this.frozenAt ?? performance.timeOrigin + performance.now();
    const start = now - this.windowMs;
    const x = (t: number) => LEFT + ((t - start) / this.windowMs) * (width - LEFT - 10);
    const visible = (t0: number, t1: number) => t1 >= start && t0 <= now;
    const nodes: SVGElement[] = [];

    for (const side of ['primary', 'secondary'] as const) {
      nodes.push(svg('line', { x1: LEFT, x2: width - 10, y1: LANE[side], y2: LANE[side], class: 'lane' }));
      const label = svg('text', { x: 4, y: LANE[side] + 4, class: 'lane-label' });
      label.textContent = side;
      const name = svg('text', { x: 4, y: LANE[side] + 17, class: 'lane-name' });
      name.textContent = this.names[side];
      nodes.push(name);
      nodes.push(label);
    }

    // The trace is in time order: only the window (and a margin for long pauses) is drawn.
    const recent = this.trace.slice(firstAtOrAfter(this.trace, start - MARGIN_MS));
    const resumes = recent.filter((e): e is TraceEvent & { kind: 'resume' } => e.kind === 'resume');
    for (const event of recent) {
      if (event.kind === 'capture') {
        const end = resumes.find((r) => r.checkpoint === event.checkpoint && r.time >= event.time)?.time ?? now;
        if (!visible(event.pauseStartedAt, end)) continue;
        nodes.push(this.bar(x(event.pauseStartedAt), x(end), LANE.primary - 9, 'pause', event,
          `Primary paused for checkpoint #${event.checkpoint} (${event.cause}: ${causeMeaning(event.cause)}): ${formatMs(end - event.pauseStartedAt)}. ${PHASE_MEANING.pause}`));
        // Periodic is the rhythm; any other cause is named on the lane.
        if (event.cause !== 'periodic') {
          const label = svg('text', { x: x(event.pauseStartedAt), y: LANE.primary - 13, class: `cause-label cause-${event.cause}`, 'data-cause': event.cause });
          label.textContent = event.cause;
          nodes.push(label);
        }
      } else if (event.kind === 'load') {
        if (!visible(event.time - event.loadMs, event.time)) continue;
        nodes.push(this.bar(x(event.time - event.loadMs), x(event.time), LANE.secondary + 3, event.ok ? 'load' : 'load failed', event,
          `Secondary loading checkpoint #${event.checkpoint}: ${formatMs(event.loadMs)}${event.ok ? '' : ' — FAILED'}. ${PHASE_MEANING.load}`));
      } else if (event.kind === 'host' && visible(event.time, event.time)) {
        const group = this.focusable(event, `Host: ${event.action} — ${event.detail}`);
        group.append(svg('line', { x1: x(event.time), x2: x(event.time), y1: 12, y2: HEIGHT - 8, class: `host host-${event.action}` }));
        const text = svg('text', { x: x(event.time) + 3, y: 20, class: 'host-label' });
        text.textContent = event.action;
        group.append(text);
        nodes.push(group);
      } else if (event.kind === 'takeover' && visible(event.time, event.time)) {
        const group = this.focusable(event, `The secondary took over, resuming from checkpoint #${event.from}: it is now the primary, and its replies go straight to the client.`);
        group.append(svg('circle', { cx: x(event.time), cy: LANE.secondary, r: 7, class: 'takeover' }));
        nodes.push(group);
      } else if (event.kind === 'held' && visible(event.time, event.time)) {
        const group = this.focusable(event, `${event.type} is held at the gate (step mode or breakpoint) until you release it.`);
        group.append(svg('rect', { x: x(event.time) - 4, y: LANE[event.side] - 4, width: 8, height: 8, class: 'held' }));
        nodes.push(group);
      } else if (event.kind === 'output' && visible(event.time, event.time)) {
        const y = LANE[event.side] + (event.state === 'held' ? -16 : 16);
        const group = this.focusable(event, `${event.lines.length} client repl${event.lines.length === 1 ? 'y' : 'ies'} ${event.state === 'held' ? `held until checkpoint #${event.checkpoint} is safe` : 'released to the client'}: ${event.lines.join(' | ')}`);
        group.append(svg('circle', { cx: x(event.time), cy: y, r: 3, class: `output-${event.state}` }));
        nodes.push(group);
      }
    }

    const messages = recent.filter((e): e is MessageEvent => e.kind === 'message');
    const used = new Set<MessageEvent>();
    // Labels that would overlap the previous one are left out; the ladder below names every message.
    let lastLabelX = -Infinity;
    let labelRow = 0;
    for (const sent of messages) {
      if (sent.at !== 'sent') continue;
      const received = messages.find((r) => r.at === 'received' && !used.has(r) && r.type === sent.type && r.from === sent.from && r.checkpoint === sent.checkpoint && r.time >= sent.time - CLOCK_SKEW_MS);
      if (received) used.add(received);
      const end = received?.time ?? now;
      if (!visible(sent.time, end)) continue;
      const group = this.focusable(sent, describeMessage(sent, received, this.names));
      const x1 = x(sent.time);
      const x2 = x(end);
      const y1 = LANE[sent.from];
      const y2 = received ? LANE[sent.to] : y1 + (LANE[sent.to] - y1) * 0.5;
      group.append(svg('line', { x1, y1, x2, y2, class: `msg msg-${sent.type}${received ? '' : ' in-flight'}` }));
      const labelX = (x1 + x2) / 2 + 3;
      if (labelX - lastLabelX > LABEL_GAP_PX || labelRow < LABEL_ROWS - 1) {
        labelRow = labelX - lastLabelX > LABEL_GAP_PX ? 0 : labelRow + 1;
        lastLabelX = labelRow === 0 ? labelX : lastLabelX;
        const label = svg('text', { x: labelX, y: LANE.primary + 22 + labelRow * 12, class: 'msg-label' });
        label.textContent = `${sent.type}${sent.checkpoint ? ` #${sent.checkpoint}` : ''}${sent.bytes ? ` ${formatBytes(sent.bytes)}` : ''}`;
        group.append(label);
      }
      nodes.push(group);
    }
    this.canvas.replaceChildren(...nodes);
    this.ladder.render(this.trace);
  }

  private bar(x1: number, x2: number, y: number, kind: string, event: TraceEvent, text: string): SVGElement {
    const group = this.focusable(event, text);
    group.append(svg('rect', { x: x1, y, width: Math.max(2, x2 - x1), height: 6, class: `bar bar-${kind.replace(' ', '-')}` }));
    return group;
  }

  private focusable(event: TraceEvent, text: string): SVGGElement {
    const group = svg('g', { tabindex: 0, role: 'button', 'aria-label': text, class: 'event' });
    const show = () => this.show(event, text);
    group.addEventListener('click', show);
    group.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') show();
    });
    return group;
  }

  private show(event: TraceEvent, text: string): void {
    const fields = Object.entries(event)
      .filter(([key]) => key !== 'lines')
      .map(([key, value]) => `${key}: ${key === 'time' || key === 'pauseStartedAt' ? new Date(value as number).toISOString().slice(11, 23) : String(value)}`);
    this.details.replaceChildren(h('p', { text }), h('pre', { text: fields.join('\n') }));
  }
}

function describeMessage(sent: MessageEvent, received: MessageEvent | undefined, names: Readonly<Record<Side, string>>): string {
  const flight = received ? `in flight ${formatMs(received.time - sent.time)}` : 'still in flight';
  const size = sent.bytes ? `, ${formatBytes(sent.bytes)} moved` : '';
  return `${sent.type}${sent.checkpoint ? ` for checkpoint #${sent.checkpoint}` : ''} from the ${sent.from} (${names[sent.from]}, ${flight}${size}). ${MESSAGE_MEANING[sent.type]}`;
}
