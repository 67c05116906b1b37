// The demo page's views: a replicated pair of PCs, the client, the protocol
// timeline, measurements, controls and the guided tour. Every view reads the
// engine. Loaded after main.ts has started the PCs.
import { SHELL_PROMPT } from '../engine/vm/guest-protocol.ts';
import { secondaryHolds, viewOf } from './cluster-view.ts';
import { ConsoleHistory } from './console-history.ts';
import { element, hideProgress, setStatus } from './status.ts';
import { h } from './dom.ts';
import type { ClusterModel, PcModel, TrafficModel } from './model.ts';
import { runFile } from './run-file.ts';
import { parseScenario } from './scenario.ts';
import { Tour } from './tour.ts';
import { ClientPanel } from './views/client-panel.ts';
import { Controls } from './views/controls.ts';
import { Metrics } from './views/metrics.ts';
import { Timeline } from './views/timeline.ts';
import { VmPanel } from './views/vm-panel.ts';

const VIEW_REFRESH_MS = 200;
const SLOW_REFRESH_MS = 1000;

/** What a tab of a two-tab run adds to the page: which PCs it runs, and starting a PC in a new tab. */
export interface TabsUi {
  readonly controls: HTMLElement;
  update(): void;
}

export interface PageOptions {
  /** The two-tab controls, when the host is shared by tabs. */
  tabs?: TabsUi;
  /** Why the page runs in one tab although two were asked for. */
  note?: string | undefined;
}

/** Builds the views around `cluster`, whose start is `started`, and keeps them current. */
export async function showPage(cluster: ClusterModel, traffic: TrafficModel, started: Promise<void>, { tabs, note }: PageOptions = {}): Promise<void> {
  const panels = { primary: new VmPanel('PC A', 'primary'), secondary: new VmPanel('PC B', 'secondary') };
  element('[data-pcs]').append(panels.primary.root, panels.secondary.root);
  const save = h('button', { type: 'button', 'data-action': 'save-run', text: 'Save this run', title: 'Download the kept trace as a file, to open later without the PCs' });
  save.addEventListener('click', () => {
    const run = runFile(cluster.trace, cluster.traceDropped, cluster.names, (side) => cluster.heartbeatsSent(side), new Date());
    const link = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(run)], { type: 'application/json' })), download: `colo-v86-run-${run.savedAt.replace(/[:.]/g, '-')}.json` });
    link.click();
    // The download reads the blob after this handler returns.
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  });
  const open = h('a', { href: '?replay', target: '_blank', 'data-action': 'open-run', text: 'Open a saved run' });
  const timeline = new Timeline({ trace: cluster.trace, names: cluster.names, heartbeats: (side) => cluster.heartbeatsSent(side), actions: [save, open] });
  element('[data-timeline]').append(timeline.root);
  const client = new ClientPanel(cluster, traffic);
  const metrics = new Metrics();
  element('[data-lower]').append(client.root, metrics.root);

  await started;
  const vms: Record<'primary' | 'secondary', PcModel | undefined> = { primary: cluster.primary, secondary: cluster.secondary };
  const consoles = new ConsoleHistory();
  if (vms.secondary) panels.secondary.attach(vms.secondary, cluster.names.secondary, consoles.text(vms.secondary));
  if (vms.primary) panels.primary.attach(vms.primary, cluster.names.primary, consoles.text(vms.primary));
  // A page that joins a two-tab run later may find the primary gone already.
  if (vms.primary?.alive && cluster.fate.primary === 'alive') {
    // The snapshot's prompt was printed before this page existed: ask for a fresh one.
    const from = vms.primary.transcriptEnd(0);
    void vms.primary.machine.sendSerial(0, '\n');
    vms.primary.waitForOutput(0, SHELL_PROMPT, 30_000, from).then(
      () => (document.body.dataset.interactiveMs = String(Math.round(performance.now()))),
      () => {}, // it ended meanwhile: the page says so
    );
  }
  setStatus('PC A runs; PC B, built from the same booted snapshot, is receiving its first checkpoint…', 'syncing', 2);
  // A page that joins a running pair (another tab of a two-tab run) may find it unprotected, or past saving.
  await cluster.waitFor(() => cluster.protected || cluster.canReprotect || cluster.serviceLost !== undefined, 60_000, 'protected');
  setStatus('Protected: PC B holds a complete checkpoint of PC A.', 'protected', 4);
  hideProgress();
  document.body.dataset.protectedMs = String(Math.round(performance.now()));
  // The learner's shell goes on on the PC that took over, after what they saw on the one that failed.
  const continueConsole = () => {
    const { primary: failed, secondary: serving } = cluster;
    if (cluster.serving !== 'secondary' || !failed || !serving) return;
    const names = cluster.names;
    const note = `\r\n\x1b[2m── ${names.primary} failed; ${names.secondary} goes on from checkpoint #${viewOf(cluster, 'secondary').checkpoint}: what ${names.primary} printed after it never happened on ${names.secondary} ──\x1b[0m\r\n`;
    if (!consoles.takeOver(failed, serving, note)) return;
    panels.secondary.showConsole(consoles.text(serving));
    panels.secondary.selectTab(true);
    // A fresh prompt, as at the page's start: the restored shell may be mid-line.
    void serving.machine.sendSerial(0, '\n');
  };
  // When the pair last became protected (re-protection included), for benchmarks: the views refresh only every 200 ms.
  let wasProtected = true;
  cluster.subscribe(() => {
    if (cluster.protected && !wasProtected) document.body.dataset.protectedAt = String(performance.now());
    wasProtected = cluster.protected;
    continueConsole();
  });

  const controls = new Controls(cluster);
  element('[data-controls]').append(controls.root);
  controls.root.append(tabs?.controls ?? oneTabNote(note));
  // A scenario link sets the controls up; what it names that the page does not know is said, not guessed.
  const { scenario, problems: scenarioProblems } = parseScenario(location.search);
  controls.apply(scenario);
  if (scenarioProblems.length > 0) {
    controls.root.append(h('p', { class: 'scenario-problems', 'data-scenario-problems': '', text: `This link's setup was not all understood: ${scenarioProblems.join('; ')}.` }));
  }
  const tour = new Tour();
  const tourButton = element('[data-action="tour"]') as HTMLButtonElement;
  tourButton.disabled = false;
  tourButton.addEventListener('click', () => tour.open());

  let traced = 0;
  const refresh = () => {
    for (const side of ['primary', 'secondary'] as const) {
      // After re-protection another PC holds the role.
      const vm = cluster[side];
      if (vm) {
        vms[side] = vm;
        panels[side].attach(vm, cluster.names[side], consoles.text(vm));
      }
      panels[side].update(viewOf(cluster, side));
    }
    controls.update();
    tabs?.update();
    client.refresh();
    // `traced` counts events ever read; the trace itself drops its oldest ones.
    for (let i = Math.max(0, traced - cluster.traceDropped); i < cluster.trace.length; i++) {
      const event = cluster.trace[i];
      if (event) client.onTrace(event);
    }
    traced = cluster.traceDropped + cluster.trace.length;
    document.body.dataset.serving = cluster.serving;
    document.body.dataset.protected = String(cluster.protected);
    document.body.dataset.falseFailovers = String(cluster.falseFailovers);
    document.body.dataset.dismissedSuspicions = String(cluster.dismissedSuspicions);
    const spare = cluster.spare;
    document.body.dataset.spare = spare ? (spare.ready ? 'ready' : 'starting') : 'none';
    const waits = cluster.spareWaitsFor;
    const spareLine = !spare
      ? ''
      : spare.ready
        ? ` ${spare.name} waits in standby to become the next secondary.`
        : waits
          ? ` ${spare.name}, the next secondary, waits for ${waits}.`
          : ` ${spare.name} is starting in standby, to become the next secondary.`;
    const pvm = viewOf(cluster, 'primary');
    const svm = viewOf(cluster, 'secondary');
    const lost = cluster.serviceLost;
    const headline = lost
      ? `Service lost: ${lost}.`
      : cluster.serving === 'secondary'
        ? `Failed over: ${cluster.names.secondary} serves the client from checkpoint #${svm.checkpoint}, alone (unprotected).${spareLine}`
        : cluster.protected
          ? `Protected: ${cluster.names.secondary} holds checkpoint #${secondaryHolds(cluster)}.`
          : `Unprotected: ${pvm.roleDetail}${spare ? `.${spareLine}` : ''}`;
    setStatus(headline, lost ? 'lost' : cluster.serving === 'secondary' ? 'failed-over' : cluster.protected ? 'protected' : 'unprotected');
  };
  setInterval(refresh, VIEW_REFRESH_MS);
  const draw = () => {
    timeline.render();
    requestAnimationFrame(draw);
  };
  requestAnimationFrame(draw);

  // Per PC, not per role: a new PC in a role starts its own count. A count that
  // went back (a secondary loaded a checkpoint) says nothing about speed.
  const lastCount = new WeakMap<object, { count: number; at: number }>();
  setInterval(() => {
    metrics.render(cluster.trace);
    metrics.renderDetection({
      heartbeat: cluster.config.heartbeat,
      peerBusyMs: cluster.config.heartbeat.busyMs,
      gaps: (['primary', 'secondary'] as const).map((side) => ({ name: cluster.names[side], gaps: cluster.status[side]?.heartbeatGaps })),
      dismissedSuspicions: cluster.dismissedSuspicions,
      falseFailovers: cluster.falseFailovers,
    });
    for (const side of ['primary', 'secondary'] as const) {
      const vm = vms[side];
      if (!vm?.alive || cluster.fate[side] !== 'alive') {
        panels[side].showRate(undefined);
        panels[side].showMemory(undefined);
        continue;
      }
      // A PC may end between the check above and the answer (in a two-tab run the host says so): then it shows nothing.
      const unknown = () => (panels[side].showRate(undefined), panels[side].showMemory(undefined));
      void vm.machine.instructionCount().then((count) => {
        const before = lastCount.get(vm);
        const at = performance.now();
        lastCount.set(vm, { count, at });
        panels[side].showRate(before === undefined || count < before.count || at <= before.at ? undefined : ((count - before.count) * 1000) / (at - before.at));
      }, unknown);
      void vm.machine.textScreen().then((rows) => panels[side].showScreen(rows), unknown);
      void vm.machine.memoryUse().then((use) => panels[side].showMemory(use), unknown);
    }
  }, SLOW_REFRESH_MS);
  traffic.start();
  refresh();
}

/** In a one-tab run: how to run the PCs in two tabs instead, or why this browser cannot. */
function oneTabNote(note: string | undefined): HTMLElement {
  if (note) return h('p', { class: 'tab-runs', 'data-tab-runs': '', text: note });
  const link = h('a', { href: '?tabs', target: '_blank', 'data-action': 'two-tabs', text: 'Open a two-tab run' });
  return h('p', { class: 'tab-runs', 'data-tab-runs': '' }, 'Both PCs run in this tab. ', link, ': the host moves to a worker the tabs share, and each PC can have a tab of its own — close the primary’s to pull its plug.');
}
