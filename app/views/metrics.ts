// Measured, not modelled: the primary's pause and the bytes moved at every
// checkpoint, and the last failover split into detection and takeover.
import type { HeartbeatConfig } from '../../engine/protocol/heartbeat.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import type { HeartbeatGaps } from '../../engine/replication/events.ts';
import { median, percentile } from '../../engine/shared/statistics.ts';
import { h, svg } from '../dom.ts';
import { formatBytes, formatFineMs, formatMs } from '../format.ts';

const BARS = 40;
const CHART_HEIGHT = 70;
/** How many checkpoints the per-mode medians cover. */
const MEDIAN_OF = 300;

type Capture = TraceEvent & { kind: 'capture' };
const MODE_NAMES = ['strict', 'speculative', 'naive'] as const;
type ModeName = (typeof MODE_NAMES)[number];

/** The mode a checkpoint was taken in, from how it moved and when the VM ran again. */
export function modeOf(capture: Capture): ModeName {
  return capture.path === 'full' ? 'naive' : capture.resumes === 'after-capture' ? 'speculative' : 'strict';
}

/**
 * Where a chart's top is: high enough for the ordinary values (three times
 * their median, or the largest if that is lower), so one outlier (a full
 * initial sync, a pause in slow motion) does not flatten the rest; the
 * values above it are the outliers, drawn clipped and marked.
 */
export function chartTop(values: readonly number[]): number {
  const largest = Math.max(0, ...values);
  const typical = values.length === 0 ? 0 : 3 * median([...values]);
  return typical > 0 ? Math.min(largest, typical) : largest > 0 ? largest : 1;
}

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
  private readonly disk: HTMLElement;
  private readonly detection: HTMLElement;
  private readonly modes: HTMLTableSectionElement;

  constructor() {
    this.pauseChart = svg('svg', { class: 'chart', height: CHART_HEIGHT, role: 'img', 'aria-label': 'primary pause per checkpoint' });
    this.bytesChart = svg('svg', { class: 'chart', height: CHART_HEIGHT, role: 'img', 'aria-label': 'bytes per checkpoint' });
    this.pauseSummary = h('p', { class: 'chart-summary', 'data-metric': 'pause' });
    this.bytesSummary = h('p', { class: 'chart-summary', 'data-metric': 'bytes' });
    this.failover = h('p', { 'data-metric': 'failover', text: 'No failover yet.' });
    this.tracking = h('p', { 'data-metric': 'tracking', text: 'no checkpoint yet' });
    this.initialSync = h('p', { 'data-metric': 'initial-sync', text: 'no pair yet' });
    this.disk = h('p', { 'data-metric': 'disk', text: 'no checkpoint yet' });
    this.detection = h('p', { 'data-metric': 'detection', text: '' });
    this.modes = h('tbody');
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
      h('h3', { text: 'The modes side by side (this page, every checkpoint it still remembers)' }),
      h(
        'table',
        { class: 'modes-table', 'data-metric': 'modes' },
        h('thead', {}, h('tr', {}, ...['mode', 'checkpoints', 'pause, median', 'pause, 90th percentile', 'bytes, median'].map((t) => h('th', { text: t })))),
        this.modes,
      ),
      h('h3', { text: 'How the changed memory is found' }),
      this.tracking,
      h('h3', { text: 'Initial sync (checkpoint #1 of the pair)' }),
      this.initialSync,
      h('h3', { text: 'The disk (block replication)' }),
      this.disk,
      h('h3', { text: 'Failure detection' }),
      this.detection,
      h('h3', { text: 'Last failover' }),
      this.failover,
    );
  }

  render(trace: readonly TraceEvent[]): void {
    const allCaptures = trace.filter((e): e is Capture => e.kind === 'capture').slice(-MEDIAN_OF);
    const modes = new Map(allCaptures.map((c) => [c.checkpoint, modeOf(c)]));
    const allPauses = trace.filter((e): e is TraceEvent & { kind: 'resume' } => e.kind === 'resume' && e.side === 'primary').slice(-MEDIAN_OF);
    const pauses = allPauses.slice(-BARS);
    const captures = allCaptures.slice(-BARS);
    this.bars(
      this.pauseChart,
      pauses.map((e) => ({ value: e.pausedMs, mode: modes.get(e.checkpoint), text: `#${e.checkpoint}: ${formatMs(e.pausedMs)}` })),
      'pause',
    );
    this.bars(
      this.bytesChart,
      captures.map((e) => ({ value: e.bytes, mode: modeOf(e), text: `#${e.checkpoint}: ${formatBytes(e.bytes)}` })),
      'bytes',
    );
    const last = pauses.at(-1);
    const byMode = perMode(
      allPauses.map((e) => ({ mode: modes.get(e.checkpoint), value: e.pausedMs })),
      formatMs,
    );
    this.pauseSummary.textContent = last
      ? `last ${formatMs(last.pausedMs)} (checkpoint #${last.checkpoint}, ${modes.get(last.checkpoint) ?? 'mode unknown'}); median by mode over the last ${allPauses.length}: ${byMode}`
      : 'no checkpoint yet';
    const seen = new Set(allPauses.map((e) => modes.get(e.checkpoint)));
    this.pauseSummary.dataset.modes = MODE_NAMES.filter((m) => seen.has(m)).join(' ');
    const lastCapture = captures.at(-1);
    this.bytesSummary.textContent = lastCapture
      ? `last ${formatBytes(lastCapture.bytes)} ${describePath(lastCapture)}; median by mode: ${perMode(
          allCaptures.map((c) => ({ mode: modeOf(c), value: c.bytes })),
          formatBytes,
        )}`
      : '';
    if (lastCapture) this.tracking.textContent = describeTracking(lastCapture, trace);
    const disk = describeDisk(allCaptures);
    if (disk) this.disk.textContent = disk;
    this.renderModes(trace);
    const sync = describeInitialSync(trace);
    if (sync) this.initialSync.textContent = sync;
    const split = lastFailover(trace);
    if (split) {
      this.failover.textContent =
        `after ${split.cause}: detection ${formatMs(split.detectionMs)}, then ` +
        (split.takeoverMs === undefined
          ? 'waiting for the first reply…'
          : `first reply from the new primary ${formatMs(split.takeoverMs)} later (total ${formatMs(split.detectionMs + split.takeoverMs)})`);
    }
  }

  /** Where there is no detection to describe (a saved run), says why. */
  noDetection(why: string): void {
    this.detection.textContent = why;
  }

  renderDetection(view: DetectionView): void {
    const { intervalMs, missLimit } = view.heartbeat;
    const heard = view.gaps
      .filter((g) => g.gaps !== undefined)
      .map((g) => `${g.name} ${formatMs(g.gaps?.peerSilenceMs ?? 0)}`)
      .join(', ');
    this.detection.textContent =
      `A heartbeat every ${intervalMs} ms each way; a PC that hears nothing for ${missLimit} of its own beats (~${formatMs(intervalMs * missLimit)}) suspects its peer ` +
      `(up to ${formatMs(view.peerBusyMs)} more after the peer said it blocks its only thread: a capture, a load, preparing checkpoint 1; more for a whole state) and tells the host, which pings the suspect: ` +
      `one that answers was only late. Longest silence heard: ${heard || 'nothing yet'}. ` +
      `Suspicions dismissed (the peer answered the host): ${view.dismissedSuspicions}. False alarms (protection ended with nothing broken): ${view.falseFailovers}.`;
  }

  /** One row per mode this page has used: its checkpoints' pauses and bytes, measured here. */
  private renderModes(trace: readonly TraceEvent[]): void {
    const captures = new Map(trace.filter((e): e is Capture => e.kind === 'capture').map((c) => [c.checkpoint, c]));
    const rows = MODE_NAMES.flatMap((mode) => {
      const ofMode = [...captures.values()].filter((c) => modeOf(c) === mode);
      if (ofMode.length === 0) return [];
      const numbers = new Set(ofMode.map((c) => c.checkpoint));
      const pauses = trace.flatMap((e) => (e.kind === 'resume' && e.side === 'primary' && numbers.has(e.checkpoint) ? [e.pausedMs] : []));
      const cells = [
        mode,
        String(ofMode.length),
        pauses.length ? formatFineMs(median(pauses)) : '—',
        pauses.length ? formatFineMs(percentile(pauses, 0.9)) : '—',
        formatBytes(median(ofMode.map((c) => c.bytes))),
      ];
      return [h('tr', { 'data-mode': mode }, ...cells.map((text) => h('td', { text })))];
    });
    const key = rows.map((r) => r.textContent).join('|');
    if (this.modes.dataset.shown !== key) {
      this.modes.dataset.shown = key;
      this.modes.replaceChildren(...rows);
    }
  }

  private bars(chart: SVGSVGElement, bars: { value: number; mode: ModeName | undefined; text: string }[], kind: string): void {
    const width = Math.max(200, chart.clientWidth || 300);
    const top = chartTop(bars.map((b) => b.value));
    const w = width / BARS;
    chart.replaceChildren(
      ...bars.map((bar, i) => {
        const outlier = bar.value > top;
        const height = (Math.min(bar.value, top) / top) * (CHART_HEIGHT - 8);
        const rect = svg('rect', {
          x: i * w + 1,
          y: CHART_HEIGHT - height,
          width: Math.max(1, w - 2),
          height,
          class: `chart-bar chart-${kind} mode-${bar.mode ?? 'unknown'}${outlier ? ' outlier' : ''}`,
          ...(outlier ? { 'data-outlier': '' } : {}),
        });
        const title = svg('title');
        title.textContent = `${bar.text} (${bar.mode ?? 'mode unknown'})${outlier ? ', off the scale' : ''}`;
        rect.append(title);
        return rect;
      }),
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
  return (
    `a scan of all of RAM against the last checkpoint's copy${took}` + (why?.kind === 'error' ? ` (${why.detail})` : ' (after a restore or a new secondary)')
  );
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

/** "strict 4 ms (n=120), naive 45 ms (n=30)": the median of each mode seen, with how many it covers. */
function perMode(values: { mode: ModeName | undefined; value: number }[], format: (v: number) => string): string {
  const parts = MODE_NAMES.flatMap((mode) => {
    const of = values.filter((v) => v.mode === mode).map((v) => v.value);
    return of.length === 0 ? [] : [`${mode} ${format(median(of))} (n=${of.length})`];
  });
  return parts.join(', ') || 'none yet';
}

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The disk part of the recent delta checkpoints: pages and bytes per checkpoint. */
export function describeDisk(captures: readonly Capture[]): string | undefined {
  const withDisk = captures.filter((c) => c.pages?.disk !== undefined);
  const last = withDisk.at(-1);
  if (!last?.pages || last.pages.disk === undefined) return undefined;
  const written = withDisk.filter((c) => !c.pages?.diskWhole).map((c) => c.pages?.disk ?? 0);
  const wrote = written.filter((n) => n > 0).length;
  const page = (n: number) => `${n} page${n === 1 ? '' : 's'} (${formatBytes(n * DISK_PAGE_BYTES)})`;
  const lastText = last.pages.diskWhole
    ? `the whole disk: its ${page(last.pages.disk)} that are not all zeros, as the first checkpoint of a pair carries it`
    : `${page(last.pages.disk)} the guest wrote since the checkpoint before`;
  return (
    `Checkpoint #${last.checkpoint} carried ${lastText}. ` +
    (written.length === 0
      ? ''
      : `Over the last ${written.length} checkpoints: ${wrote} carried disk pages, median ${median(written)}, most ${Math.max(...written)} per checkpoint. `) +
    "Each is a page of the disk v86 saw the guest write (the ledger's journal), copied from the disk itself: nothing scans the disk."
  );
}

const DISK_PAGE_BYTES = 4096;

function describePath(capture: TraceEvent & { kind: 'capture' }): string {
  if (capture.path === 'full') return '(the whole state: naive mode moves all of it every time, the disk with it)';
  const pages = capture.pages;
  const disk = pages?.disk === undefined ? '' : ` and ${pages.disk} disk pages${pages.diskWhole ? ' (the whole disk)' : ' the guest wrote'}`;
  return pages ? `(${pages.ram} RAM pages and ${pages.device} device pages changed since the last checkpoint${disk})` : '(changed pages)';
}
