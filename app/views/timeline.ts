// The protocol timeline: a lane per PC, every COLO message drawn from its
// sender's lane when it left to its receiver's lane when it was read, the
// primary's pauses and the secondary's loads as bars, host actions as marks.
// Click (or Enter on) anything to read what it is and why it exists. A
// scrubber goes back in time: the view stops at any moment of the kept trace
// (the PCs run on), the ladder shows the checkpoint of that moment. What is
// drawn comes from the pure model (timeline-model.ts); this view only keeps
// one element per mark and moves it.
import type { Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { h, svg } from '../dom.ts';
import { formatMs } from '../format.ts';
import { Ladder } from './ladder.ts';
import { timelineLegend } from './timeline-legend.ts';
import { checkpointStarts, marksIn, placeLabels, type LabelBand, type Mark, type PlacedLabel } from './timeline-model.ts';

const HEIGHT = 190;
const LANE: Record<Side, number> = { primary: 55, secondary: 150 };
const LEFT = 70;
const RIGHT_PAD = 10;
/** How far a heartbeat's tick reaches from its sender's lane. */
const HEARTBEAT_TICK = 5;
/** Label rows per band, and where each band's first row sits. */
const ROWS: Record<LabelBand, number> = { host: 2, cause: 1, message: 6 };
const ROW_Y: Record<LabelBand, number> = { host: 14, cause: 42, message: LANE.primary + 22 };
const ROW_HEIGHT: Record<LabelBand, number> = { host: 11, cause: 0, message: 12 };

/** What a timeline draws, and where its present is. */
export interface TimelineSource {
  trace: readonly TraceEvent[];
  names: Readonly<Record<Side, string>>;
  /** When each role's side sent its heartbeats. */
  heartbeats: (side: Side) => readonly number[];
  /** The present: the clock while the PCs run (the default), the end of a saved run when replaying one. */
  now?: () => number;
  /** False for a saved run: there is no present to follow, the view always stands at a moment of it. */
  live?: boolean;
  /** Buttons for its header. */
  actions?: HTMLElement[];
}

/** One drawn mark: its group (the click target) and the shapes in it, kept across frames. */
interface Drawn {
  group: SVGGElement;
  shape: SVGElement;
  /** A wider, invisible copy of a message's line: something a pointer can hit. */
  hit?: SVGLineElement;
  label?: SVGTextElement;
}

export class Timeline {
  readonly root: HTMLElement;
  private readonly canvas: SVGSVGElement;
  private readonly layer: SVGGElement;
  /** Labels above every line, so a line drawn later never covers a label's click. */
  private readonly labelLayer: SVGGElement;
  private readonly details: HTMLElement;
  private readonly ladder: Ladder;
  private windowMs = 8000;
  /** The moment the view stops at, or undefined to follow the present. */
  private cursor: number | undefined;
  private readonly scrubber: HTMLInputElement;
  private readonly moment: HTMLElement;
  private readonly pause: HTMLButtonElement;
  private readonly drawn = new Map<string, Drawn>();
  /** The marks of the last frame, by id: what a click shows. */
  private current = new Map<string, Mark>();
  private selected: string | undefined;
  private readonly widths = new Map<string, number>();
  /** Where each label went in the last frame: it stays there while it fits. */
  private placed = new Map<string, PlacedLabel>();
  private readonly lanes: { side: Side; name: SVGTextElement; line: SVGLineElement; beats: SVGPathElement }[] = [];

  private readonly trace: readonly TraceEvent[];
  private readonly names: Readonly<Record<Side, string>>;
  private readonly heartbeats: (side: Side) => readonly number[];
  private readonly now: () => number;
  private readonly live: boolean;

  constructor(source: TimelineSource) {
    ({ trace: this.trace, names: this.names, heartbeats: this.heartbeats } = source);
    this.now = source.now ?? (() => performance.timeOrigin + performance.now());
    this.live = source.live ?? true;
    const live = this.live;
    this.ladder = new Ladder(this.names);
    this.canvas = svg('svg', { class: 'timeline', height: HEIGHT, role: 'group', 'aria-label': 'COLO protocol timeline' });
    for (const side of ['primary', 'secondary'] as const) {
      const line = svg('line', { x1: LEFT, y1: LANE[side], y2: LANE[side], class: 'lane' });
      const label = svg('text', { x: 4, y: LANE[side] + 4, class: 'lane-label' });
      label.textContent = side;
      const name = svg('text', { x: 4, y: LANE[side] + 17, class: 'lane-name' });
      const beats = svg('path', { class: 'heartbeats', 'data-heartbeats': side });
      this.canvas.append(line, label, name, beats);
      this.lanes.push({ side, name, line, beats });
    }
    this.layer = svg('g', { class: 'marks' });
    this.labelLayer = svg('g', { class: 'labels' });
    this.canvas.append(this.layer, this.labelLayer);
    this.details = h('div', { class: 'details', 'aria-live': 'polite' }, h('p', { text: 'Click a message, a bar or a mark to see what it is.' }));
    this.pause = h('button', { type: 'button', 'data-action': 'timeline-pause', 'aria-pressed': 'false', text: 'Pause view', hidden: !live });
    this.pause.addEventListener('click', () => this.stopAt(this.cursor === undefined ? this.now() : undefined));
    this.scrubber = h('input', { type: 'range', step: 'any', 'aria-label': 'moment shown', 'data-control': 'scrub' });
    this.scrubber.addEventListener('input', () => this.stopAt(Number(this.scrubber.value)));
    this.moment = h('span', { class: 'moment', 'data-moment': '' });
    const button = (action: string, text: string, title: string, onClick: () => void) => {
      const b = h('button', { type: 'button', 'data-action': action, text, title });
      b.addEventListener('click', onClick);
      return b;
    };
    const scrub = h(
      'div',
      { class: 'scrub' },
      button('previous-checkpoint', '◀ checkpoint', 'Show the checkpoint before the one shown', () => this.stepCheckpoint(-1)),
      this.scrubber,
      button('next-checkpoint', 'checkpoint ▶', 'Show the checkpoint after the one shown', () => this.stepCheckpoint(1)),
      button('last-failover', 'Last failover', 'Go to the moment the secondary last took over', () => this.showLastFailover()),
      this.moment,
    );
    if (!live) this.cursor = this.now();
    const zoom = h(
      'select',
      { 'aria-label': 'timeline window', 'data-control': 'timeline-window' },
      ...[4000, 8000, 20000, 60000].map((ms) => h('option', { value: ms, selected: ms === this.windowMs, text: `last ${ms / 1000} s` })),
    );
    zoom.addEventListener('change', () => (this.windowMs = Number(zoom.value)));
    this.root = h(
      'section',
      { class: 'timeline-panel', 'aria-labelledby': 'timeline-title' },
      h('header', {}, h('h2', { id: 'timeline-title', text: 'Protocol timeline' }), this.pause, zoom, ...(source.actions ?? [])),
      this.canvas,
      scrub,
      timelineLegend(),
      h('div', { class: 'timeline-lower' }, this.ladder.root, this.details),
    );
  }

  // Each frame moves the marks that stay, adds the new ones and drops those
  // that left the window: an element keeps its focus, and Enter works on it.
  render(): void {
    const width = Math.max(300, this.canvas.clientWidth || 800);
    const right = width - RIGHT_PAD;
    const present = this.now();
    const now = this.cursor ?? present;
    const start = now - this.windowMs;
    this.showMoment(now, present);
    const x = (t: number) => LEFT + ((Math.min(now, Math.max(start, t)) - start) / this.windowMs) * (right - LEFT);
    for (const lane of this.lanes) {
      lane.line.setAttribute('x2', String(right));
      if (lane.name.textContent !== this.names[lane.side]) lane.name.textContent = this.names[lane.side];
      // Each heartbeat a short tick from its sender's lane towards the peer: one path per lane.
      const toward = lane.side === 'primary' ? HEARTBEAT_TICK : -HEARTBEAT_TICK;
      const ticks = this.heartbeats(lane.side)
        .filter((t) => t >= start && t <= now)
        .map((t) => `M${x(t).toFixed(1)} ${LANE[lane.side]}v${toward}`)
        .join('');
      if (lane.beats.getAttribute('d') !== ticks) lane.beats.setAttribute('d', ticks);
    }
    const marks = marksIn(this.trace, start, now, this.names);
    this.current = new Map(marks.map((m) => [m.id, m]));
    const labels = placeLabels(
      marks.flatMap((m) => (m.label ? [{ id: m.id, band: m.label.band, x: labelX(m, x), width: this.textWidth(m.label.text) }] : [])),
      LEFT,
      right,
      ROWS,
      this.placed,
    );
    this.placed = labels;
    for (const [id, d] of this.drawn) {
      if (this.current.has(id)) continue;
      d.group.remove();
      d.label?.remove();
      this.drawn.delete(id);
    }
    for (const mark of marks) this.draw(mark, x, labels.get(mark.id));
    this.showSelected();
    this.ladder.render(this.trace, now);
  }

  /** Stops the view at `moment` (the PCs run on), or follows the present again. */
  stopAt(moment: number | undefined): void {
    this.cursor = moment === undefined && !this.live ? this.now() : moment;
    const stopped = this.cursor !== undefined;
    this.pause.setAttribute('aria-pressed', String(stopped));
    this.pause.textContent = stopped ? 'Follow live' : 'Pause view';
  }

  /** The checkpoint before or after the one shown, whole: the view stops just before the next one starts. */
  private stepCheckpoint(step: -1 | 1): void {
    // The starts the ladder knows: the primary's reports, and one only its secondary saw.
    const requests = checkpointStarts(this.trace);
    if (this.ladder.unreportedStart !== undefined) requests.push(this.ladder.unreportedStart);
    const at = this.cursor ?? this.now();
    const shown = requests.findLastIndex((t) => t <= at);
    const target = Math.max(0, Math.min(requests.length - 1, shown + step));
    if (requests[target] === undefined) return;
    this.stopAt(Math.min(this.now(), (requests[target + 1] ?? Infinity) - 0.001));
  }

  /** The last takeover, a little after it so what followed shows too, and selected. */
  private showLastFailover(): void {
    const takeover = this.trace.findLast((e) => e.kind === 'takeover');
    if (!takeover) {
      this.details.replaceChildren(h('p', { text: 'No failover in the kept trace yet.' }));
      delete this.details.dataset.shown;
      return;
    }
    this.stopAt(Math.min(this.now(), takeover.time + this.windowMs * 0.3));
    this.select(`takeover:${takeover.time}`);
  }

  private showMoment(now: number, present: number): void {
    const first = this.trace[0]?.time ?? present;
    const [min, max, value] = [String(first), String(present), String(now)];
    if (this.scrubber.min !== min) this.scrubber.min = min;
    if (this.scrubber.max !== max) this.scrubber.max = max;
    if (this.scrubber.value !== value) this.scrubber.value = value;
    const clock = new Date(now).toISOString().slice(11, 23);
    const text = this.cursor === undefined ? 'live' : `${clock}, ${formatMs(present - now)} ${this.live ? 'ago' : 'before the end'}`;
    if (this.moment.textContent !== text) this.moment.textContent = text;
    this.root.dataset.stopped = String(this.cursor !== undefined);
  }

  private draw(mark: Mark, x: (t: number) => number, place: PlacedLabel | undefined): void {
    let d = this.drawn.get(mark.id);
    if (!d) {
      d = this.create(mark);
      this.drawn.set(mark.id, d);
      this.layer.append(d.group);
    }
    const x1 = x(mark.t0);
    const x2 = x(mark.t1);
    switch (mark.kind) {
      case 'message': {
        const y1 = LANE[mark.from];
        const y2 = mark.inFlight ? y1 + (LANE[mark.to] - y1) * 0.5 : LANE[mark.to];
        for (const line of [d.shape, d.hit]) if (line) setAttrs(line, { x1, y1, x2, y2 });
        d.shape.classList.toggle('in-flight', mark.inFlight);
        break;
      }
      case 'pause':
      case 'load':
        setAttrs(d.shape, { x: x1, width: Math.max(2, x2 - x1) });
        break;
      case 'host':
        setAttrs(d.shape, { x1, x2: x1 });
        break;
      case 'takeover':
      case 'output':
        setAttrs(d.shape, { cx: x1 });
        break;
      case 'held':
        setAttrs(d.shape, { x: x1 - 4 });
        break;
    }
    if (d.label) {
      d.label.style.display = place ? '' : 'none';
      if (place && mark.label) setAttrs(d.label, { x: place.x, y: ROW_Y[mark.label.band] + place.row * ROW_HEIGHT[mark.label.band] });
    }
    if (d.group.getAttribute('aria-label') !== mark.text) d.group.setAttribute('aria-label', mark.text);
  }

  private create(mark: Mark): Drawn {
    const group = svg('g', { tabindex: 0, role: 'button', class: 'event', 'data-mark': mark.id, 'data-kind': mark.kind, 'data-style': mark.style });
    if (mark.event.kind === 'capture') group.dataset.cause = mark.event.cause;
    const select = () => this.select(mark.id);
    group.addEventListener('click', select);
    group.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') select();
    });
    group.classList.toggle('selected', mark.id === this.selected);
    const d: Drawn = { group, shape: shapeOf(mark) };
    if (mark.kind === 'message') {
      d.hit = svg('line', { class: 'hit' });
      group.append(d.hit);
    }
    group.append(d.shape);
    if (mark.label) {
      const causeStyle = mark.event.kind === 'capture' ? ` cause-${mark.event.cause}` : '';
      d.label = svg('text', { class: `${mark.label.band}-label${causeStyle}`, 'data-label': mark.label.band, 'data-style': mark.style });
      d.label.textContent = mark.label.text;
      d.label.classList.toggle('selected', mark.id === this.selected);
      d.label.addEventListener('click', select);
      this.labelLayer.append(d.label);
    }
    return d;
  }

  /** A label's width as the browser draws it, measured once per text. */
  private textWidth(text: string): number {
    let width = this.widths.get(text);
    if (width === undefined) {
      const probe = svg('text', { class: 'message-label', x: -1000, y: -1000 });
      probe.textContent = text;
      this.canvas.append(probe);
      width = Math.ceil(probe.getComputedTextLength()) || text.length * 6;
      probe.remove();
      this.widths.set(text, width);
    }
    return width;
  }

  private select(id: string): void {
    this.selected = id;
    for (const [other, d] of this.drawn) {
      d.group.classList.toggle('selected', other === id);
      d.label?.classList.toggle('selected', other === id);
    }
    // A mark not drawn yet (a jump to a moment) is shown by the next frame.
    if (this.current.has(id)) this.showSelected();
  }

  private showSelected(): void {
    if (this.selected === undefined) return;
    const mark = this.current.get(this.selected);
    const key = mark ? `${mark.id}|${mark.text}` : `${this.selected}|gone`;
    if (this.details.dataset.shown === key) return;
    this.details.dataset.shown = key;
    this.details.dataset.selected = this.selected;
    if (!mark) {
      this.details.querySelector('p')?.append(' (now out of the window)');
      return;
    }
    const fields = Object.entries(mark.event)
      .filter(([key]) => key !== 'lines')
      .map(
        ([key, value]) =>
          `${key}: ${key === 'time' || key === 'pauseStartedAt' ? new Date(value as number).toISOString().slice(11, 23) : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
      );
    this.details.replaceChildren(h('p', { text: mark.text }), h('pre', { text: fields.join('\n') }));
  }
}

/** Where a mark's label would like to start: beside its line, or at its mark or bar. */
function labelX(mark: Mark, x: (t: number) => number): number {
  return mark.kind === 'message' ? (x(mark.t0) + x(mark.t1)) / 2 + 3 : mark.kind === 'host' ? x(mark.t0) + 3 : x(mark.t0);
}

function shapeOf(mark: Mark): SVGElement {
  switch (mark.kind) {
    case 'message':
      return svg('line', { class: `msg msg-${mark.style}` });
    case 'pause':
      return svg('rect', { y: LANE.primary - 9, height: 6, class: 'bar bar-pause' });
    case 'load':
      return svg('rect', { y: LANE.secondary + 3, height: 6, class: `bar bar-${mark.style}` });
    case 'host':
      return svg('line', { y1: 12, y2: HEIGHT - 8, class: `host host-${mark.style}` });
    case 'takeover':
      return svg('circle', { cy: LANE.secondary, r: 7, class: 'takeover' });
    case 'held':
      return svg('rect', { y: LANE[mark.from] - 4, width: 8, height: 8, class: 'held' });
    case 'output':
      return svg('circle', { cy: LANE[mark.from] + (mark.style === 'output-held' ? -16 : 16), r: 3, class: mark.style });
  }
}

function setAttrs(el: SVGElement, attrs: Record<string, number>): void {
  for (const [key, value] of Object.entries(attrs)) {
    const text = value.toFixed(1);
    if (el.getAttribute(key) !== text) el.setAttribute(key, text);
  }
}
