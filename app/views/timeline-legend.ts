// What every mark, bar and colour on the timeline means: each entry draws the
// same shape with the same style the timeline uses, so the two cannot drift.
import { h, svg } from '../dom.ts';

interface Entry {
  /** The mark kind (and style) it explains, as the timeline's `data-kind`. */
  kind: string;
  shape: () => SVGElement;
  text: string;
}

const line = (cls: string) => () => svg('line', { x1: 2, y1: 12, x2: 26, y2: 4, class: cls });

const ENTRIES: Entry[] = [
  {
    kind: 'message',
    shape: line('msg msg-checkpoint-request'),
    text: 'a COLO message, from its sender’s lane when it left to its receiver’s when it was read',
  },
  { kind: 'message', shape: line('msg msg-vmstate-size'), text: 'vmstate-size: the one that carries the state (thicker)' },
  { kind: 'message', shape: line('msg msg-vmstate-received'), text: 'vmstate-received and vmstate-loaded: the secondary’s answers (green)' },
  { kind: 'message', shape: line('msg msg-checkpoint-request in-flight'), text: 'dashed: still in flight, not read yet' },
  {
    kind: 'message',
    shape: () => svg('line', { x1: 14, y1: 1, x2: 14, y2: 15, class: 'msg msg-checkpoint-request unreported' }),
    text: 'dotted, upright: read by its receiver, but when it left is unknown (its sender died before the host heard its last reports)',
  },
  {
    kind: 'heartbeat',
    shape: () => svg('path', { d: 'M4 12v-5M10 12v-5M16 12v-5M22 12v-5', class: 'heartbeats' }),
    text: 'heartbeats: a short tick from its sender’s lane for each; a gap in them is what makes the peer suspect a failure',
  },
  {
    kind: 'pause',
    shape: () => svg('rect', { x: 2, y: 5, width: 24, height: 6, class: 'bar bar-pause' }),
    text: 'the primary paused for a checkpoint (a cause other than periodic is named above it)',
  },
  {
    kind: 'load',
    shape: () => svg('rect', { x: 2, y: 5, width: 24, height: 6, class: 'bar bar-load' }),
    text: 'the secondary loading a checkpoint (bright red: the load failed)',
  },
  {
    kind: 'host',
    shape: () => svg('line', { x1: 14, y1: 1, x2: 14, y2: 15, class: 'host' }),
    text: 'something the host did or decided: kill, fence, suspect, confirm, primary-changed…',
  },
  {
    kind: 'held',
    shape: () => svg('rect', { x: 10, y: 4, width: 8, height: 8, class: 'held' }),
    text: 'a message held back (step mode or “Stop before”) until Step ▶',
  },
  { kind: 'output', shape: () => svg('circle', { cx: 14, cy: 8, r: 3, class: 'output-held' }), text: 'client replies held by output commit (above a lane)' },
  { kind: 'output', shape: () => svg('circle', { cx: 14, cy: 8, r: 3, class: 'output-released' }), text: 'client replies released (below a lane)' },
  { kind: 'takeover', shape: () => svg('circle', { cx: 14, cy: 8, r: 6, class: 'takeover' }), text: 'the secondary took over: from here it is the primary' },
];

export function timelineLegend(): HTMLElement {
  return h(
    'details',
    { class: 'timeline-legend', 'data-legend': '' },
    h('summary', { text: 'What the marks mean' }),
    h(
      'ul',
      {},
      ...ENTRIES.map((entry) => {
        const icon = svg('svg', { width: 28, height: 16, 'aria-hidden': 'true' });
        icon.append(entry.shape());
        return h('li', { 'data-legend-kind': entry.kind }, icon, h('span', { text: entry.text }));
      }),
    ),
  );
}
