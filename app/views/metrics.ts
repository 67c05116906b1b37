// Measured, not modelled: the primary's pause and the bytes moved at every
// checkpoint, and the last failover split into detection and takeover.
import type { HeartbeatConfig } from '../../engine/protocol/heartbeat.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import type { HeartbeatGaps } from '../../engine/replication/events.ts';
import { median } from '../../engine/shared/statistics.ts';
import { h, svg } from '../dom.ts';
import { formatBytes, formatFineMs, formatMs } from '../format.ts';

const BARS = 40;
const CHART_HEIGHT = 70;

export interface FailoverSplit {
  cause: string;
  detectionMs: number;
  takeoverMs: number | undefined;
}

/** The last failover: from the host's kill/freeze/cut to the takeover decision, then to the first released reply. */
export function lastFailover(trace: readonly TraceEvent[]): FailoverSplit | undefined {
  const takeoverAt = trace.findLastIndex((e) => e.kind === 'takeover');
  const takeover = trace[takeoverAt];
  if (!takeover) return undefined;
  const cause = trace
    .slice(0, takeoverAt)
    .findLast((e) => e.kind === 'host' && ['kill-primary', 'freeze-primary', 'cut-link', 'failover-command'].includes(e.action));
  if (!cause || cause.kind !== 'host') return undefined;
  const firstReply = trace.slice(takeoverAt).find((e) => e.kind === 'output' && e.side === 'secondary' && e.state === 'released');
  return { cause: cause.action, detectionMs: takeover.time - cause.time, takeoverMs: firstReply ? firstReply.time - takeover.time : undefined };
}

/** What the detection line needs: the setting, each PC's heartbeat gaps, the host's counts of dismissed suspicions and false alarms. */
export interface DetectionView {
  heartbeat: HeartbeatConfig;
  peerBusyMs: number;
  gaps: { name: string; gaps: HeartbeatGaps | undefined }[];
  dismissedSuspicions: number;
  falseFailovers: number;
}

export class Metrics {
  readonly root: HTMLElement;
  private readonly pauseChart: SVGSVGElement;
  private readonly bytesChart: SVGSVGElement;
  private readonly pauseSummary: HTMLElement;
  private readonly bytesSummary: HTMLElement;
  private readonly failover: HTMLElement;
  private readonly tracking: HTMLElement;
  private readonly initialSync: HTMLElement;
  private readonly detection: HTMLElement;

  constructor() {
    this.pauseChart = svg('svg', { class: 'chart', height: CHART_HEIGHT, role: 'img', 'aria-label': 'primary pause per checkpoint' });
    this.bytesChart = svg('svg', { class: 'chart', height: CHART_HEIGHT, role: 'img', 'aria-label': 'bytes per checkpoint' });
    this.pauseSummary = h('p', { class: 'chart-summary', 'data-metric': 'pause' });
    this.bytesSummary = h('p', { class: 'chart-summary', 'data-metric': 'bytes' });
    this.failover = h('p', { 'data-metric': 'failover', text: 'No failover yet.' });
    this.tracking = h('p', { 'data-metric': 'tracking', text: 'no checkpoint yet' });
    this.initialSync = h('p', { 'data-metric': 'initial-sync', text: 'no pair yet' });
    this.detection = h('p', { 'data-metric': 'detection', text: '' });
    this.root = h(
      'section',
      { class: 'metrics', 'aria-labelledby': 'metrics-title' },
      h('h2', { id: 'metrics-title', text: 'Measurements' }),
      h('h3', { text: 'Primary pause per checkpoint' }),
      this.pauseChart,
      this.pauseSummary,
      h('h3', { text: 'Bytes sent per checkpoint' }),
      this.bytesChart,
      this.bytesSummary,
      h('h3', { text: 'How the changed memory is found' }),
      this.tracking,
      h('h3', { text: 'Initial sync (checkpoint #1 of the pair)' }),
      this.initialSync,
      h('h3', { text: 'Failure detection' }),
      this.detection,
      h('h3', { text: 'Last failover' }),
      this.failover,
    );
  }

  render(trace: readonly TraceEvent[]): void {
    const pauses = trace.filter((e): e is TraceEvent & { kind: 'resume' } => e.kind === 'resume' && e.side === 'primary').slice(-BARS);
    const captures = trace.filter((e): e is TraceEvent & { kind: 'capture' } => e.kind === 'capture').slice(-BARS);
    this.bars(this.pauseChart, pauses.map((e) => e.pausedMs), 'pause');
    this.bars(this.bytesChart, captures.map((e) => e.bytes), 'bytes');
    const last = pauses.at(-1);
    this.pauseSummary.textContent = last
      ? `last ${formatMs(last.pausedMs)} (checkpoint #${last.checkpoint}); median of the last ${pauses.length}: ${formatMs(median(pauses.map((e) => e.pausedMs)))}`
      : 'no checkpoint yet';
    const lastCapture = captures.at(-1);
    this.bytesSummary.textContent = lastCapture ? `last ${formatBytes(lastCapture.bytes)} ${describePath(lastCapture)}` : '';
    if (lastCapture) this.tracking.textContent = describeTracking(lastCapture, trace);
    const sync = describeInitialSync(trace);
    if (sync) this.initialSync.textContent = sync;
    const split = lastFailover(trace);
    if (split) {
      this.failover.textContent =
        `after ${split.cause}: detection ${formatMs(split.detectionMs)}, then ` +
        (split.takeoverMs === undefined ? 'waiting for the first reply…' : `first reply from the new primary ${formatMs(split.takeoverMs)} later (total ${formatMs(split.detectionMs + split.takeoverMs)})`);
    }
  }

  renderDetection(view: DetectionView): void {
    const { intervalMs, missLimit } = view.heartbeat;
    const heard = view.gaps
      .filter((g) => g.gaps !== undefined)
      .map((g) => `${g.name} ${formatMs(g.gaps?.peerSilenceMs ?? 0)}`)
      .join(', ');
    this.detection.textContent =
      `A heartbeat every ${intervalMs} ms each way; a PC that hears nothing for ${missLimit} of its own beats (~${formatMs(intervalMs * missLimit)}) suspects its peer ` +
      `(up to ${formatMs(view.peerBusyMs)} more while the peer captures or loads a checkpoint, its only thread busy) and tells the host, which pings the suspect: ` +
      `one that answers was only late. Longest silence heard: ${heard || 'nothing yet'}. ` +
      `Suspicions dismissed (the peer answered the host): ${view.dismissedSuspicions}. False alarms (protection ended with nothing broken): ${view.falseFailovers}.`;
  }

  private bars(chart: SVGSVGElement, values: number[], kind: string): void {
    const width = Math.max(200, chart.clientWidth || 300);
    const max = Math.max(1, ...values);
    const w = width / BARS;
    chart.replaceChildren(
      ...values.map((v, i) => svg('rect', { x: i * w + 1, y: CHART_HEIGHT - (v / max) * (CHART_HEIGHT - 4), width: Math.max(1, w - 2), height: (v / max) * (CHART_HEIGHT - 4), class: `chart-bar chart-${kind}` })),
    );
  }
}

function describeTracking(capture: TraceEvent & { kind: 'capture' }, trace: readonly TraceEvent[]): string {
  if (capture.path === 'full') return 'naive mode: no search, v86 saves all of its state';
  const took = capture.parts === undefined ? '' : `, in ${formatFineMs(capture.parts.ramMs)}`;
  if (capture.tracking === 'write') {
    return `write tracking: v86 marks each page the guest writes, and the checkpoint compares only those${took} (checkpoint #${capture.checkpoint})`;
  }
  const why = trace.findLast((e) => e.kind === 'error' && e.detail.startsWith('no write tracking'));
  return `a scan of all of RAM against the last checkpoint's copy${took}` + (why?.kind === 'error' ? ` (${why.detail})` : ' (after a restore or a new secondary)');
}

/** The last pair's checkpoint 1: what it built on and what it moved. */
export function describeInitialSync(trace: readonly TraceEvent[]): string | undefined {
  const at = trace.findLastIndex((e) => e.kind === 'initial-sync');
  const sync = trace[at];
  if (sync?.kind !== 'initial-sync') return undefined;
  const first = trace.slice(at).find((e): e is TraceEvent & { kind: 'capture' } => e.kind === 'capture');
  const moved = first ? `checkpoint #${first.checkpoint} moved ${formatBytes(first.bytes)}` : 'checkpoint #1 is on its way';
  return sync.method === 'shared-base'
    ? `against the booted snapshot both PCs were built from: ${moved}${first?.pages ? ` (${first.pages.ram} RAM pages that differ from it, and the device state)` : ''}. ${capitalized(sync.detail)}.`
    : `${moved}: ${sync.detail}.`;
}

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

function describePath(capture: TraceEvent & { kind: 'capture' }): string {
  if (capture.path === 'full') return '(the whole state: naive mode moves all of it every time)';
  const pages = capture.pages;
  return pages ? `(${pages.ram} RAM pages and ${pages.device} device pages changed since the last checkpoint)` : '(changed pages)';
}
