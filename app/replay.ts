// A saved run, opened without the PCs: its timeline, stopped at any moment
// of it with the scrubber, the ladder of the checkpoint of that moment, and
// the measurements of the whole run. A file that cannot be read is refused
// with why, and whatever run was open stays open.
import { h } from './dom.ts';
import { formatMs } from './format.ts';
import { parseRunFile, RunFileError, type RunFile } from './run-file.ts';
import { element, hideProgress, setStatus } from './status.ts';
import { Metrics } from './views/metrics.ts';
import { Timeline } from './views/timeline.ts';

export function showReplay(): void {
  hideProgress();
  element('[data-action="tour"]').hidden = true;
  setStatus('Replay: open a run saved from the demo page ("Save this run"). No PCs run here.', 'replay');
  const input = h('input', { type: 'file', accept: '.json,application/json', 'data-control': 'run-file', 'aria-label': 'saved run' });
  const problem = h('p', { class: 'replay-problem', role: 'alert', 'data-replay-problem': '', hidden: true });
  const box = h(
    'section',
    { class: 'replay-open', 'aria-label': 'open a saved run' },
    h('h2', { text: 'Open a saved run' }),
    h('p', {}, 'Choose a file saved with "Save this run", or drop one on this page. ', h('a', { href: location.pathname, text: 'Back to the live PCs' })),
    input,
    problem,
  );
  element('[data-pcs]').append(box);

  let frame = 0;
  const open = async (file: File) => {
    let run: RunFile;
    try {
      run = parseRunFile(await file.text());
    } catch (err) {
      problem.hidden = false;
      problem.textContent = `${file.name} was not opened: ${err instanceof RunFileError ? err.message : String(err)}.`;
      return;
    }
    problem.hidden = true;
    cancelAnimationFrame(frame);
    show(run, file.name);
  };
  const show = (run: RunFile, fileName: string) => {
    const end = run.trace.at(-1)?.time ?? 0;
    const timeline = new Timeline({ trace: run.trace, names: run.names, heartbeats: (side) => run.heartbeats[side], now: () => end, live: false });
    const metrics = new Metrics();
    metrics.render(run.trace);
    metrics.noDetection(
      "Not kept in a saved run: the heartbeat setting and the host's counts stay with the PCs. The heartbeats themselves are drawn on the timeline.",
    );
    element('[data-timeline]').replaceChildren(timeline.root);
    element('[data-lower]').replaceChildren(metrics.root);
    const draw = () => {
      timeline.render();
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    const first = run.trace[0]?.time ?? end;
    const checkpoints = new Set(run.trace.flatMap((e) => (e.kind === 'capture' ? [e.checkpoint] : []))).size;
    const failovers = run.trace.filter((e) => e.kind === 'takeover').length;
    setStatus(
      `Replay of ${fileName}, saved ${run.savedAt.slice(0, 19).replace('T', ' ')} UTC: ${formatMs(end - first)} of the run, ${checkpoints} checkpoints, ${failovers} failover${failovers === 1 ? '' : 's'}. Scrub the timeline to any moment.`,
      'replay',
    );
    document.body.dataset.replay = String(run.trace.length);
  };
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void open(file);
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) void open(file);
  });
}
