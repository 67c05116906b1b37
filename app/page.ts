// The demo page's views: a replicated pair of PCs, the client, the protocol
// timeline, measurements, controls and the guided tour. Every view reads the
// service's feed (engine/host/feed.ts) and sends commands; nothing here runs
// a procedure of its own. Every timer and subscription belongs to the page's
// lifetime, which ends when the page is taken down. Loaded after main.ts has
// started the PCs.
import type { ClusterFeed, ConsoleFeed } from '../engine/host/feed.ts';
import type { ClusterCommands } from '../engine/host/surface.ts';
import { SHELL_PROMPT } from '../engine/vm/guest-protocol.ts';
import { secondaryHolds, viewOf } from './cluster-view.ts';
import { ConsoleHistory } from './console-history.ts';
import { Lifetime } from './lifetime.ts';
import { element, hideProgress, setStatus } from './status.ts';
import { h } from './dom.ts';
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
const SIDES = ['primary', 'secondary'] as const;

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

/** Builds the views around the service's `feed`, asking `commands` what the user asks; resolves with how to take them down. */
export async function showPage(feed: ClusterFeed, commands: ClusterCommands, { tabs, note }: PageOptions = {}): Promise<() => void> {
  const life = new Lifetime();
  // Keys for a PC that ended meanwhile (the feed is a moment behind the host) go nowhere, and say nothing.
  const type = (pc: number, data: string) => void commands.typeOnConsole(pc, data).catch(() => {});
  const panels = { primary: new VmPanel('PC A', 'primary', type), secondary: new VmPanel('PC B', 'secondary', type) };
  life.own(() => SIDES.forEach((side) => panels[side].dispose()));
  /** What this page put in the document: taken out again when it goes. */
  const place = (container: string, ...roots: HTMLElement[]) => {
    element(container).append(...roots);
    life.own(() => roots.forEach((root) => root.remove()));
  };
  place('[data-pcs]', panels.primary.root, panels.secondary.root);
  const save = h('button', {
    type: 'button',
    'data-action': 'save-run',
    text: 'Save this run',
    title: 'Download the kept trace as a file, to open later without the PCs',
  });
  save.addEventListener('click', () => {
    const run = runFile(feed.trace, feed.traceDropped, feed.state.names, (side) => feed.heartbeatsSent(side), new Date());
    const link = h('a', {
      href: URL.createObjectURL(new Blob([JSON.stringify(run)], { type: 'application/json' })),
      download: `colo-v86-run-${run.savedAt.replace(/[:.]/g, '-')}.json`,
    });
    link.click();
    // The download reads the blob after this handler returns.
    life.after(60_000, () => URL.revokeObjectURL(link.href));
  });
  const open = h('a', { href: '?replay', target: '_blank', 'data-action': 'open-run', text: 'Open a saved run' });
  await feed.waitFor(() => true, 60_000, 'heard from the service');
  // The names of the PCs in their roles change with each new pair: read as they are now.
  const names = {
    get primary() {
      return feed.state.names.primary;
    },
    get secondary() {
      return feed.state.names.secondary;
    },
  };
  const timeline = new Timeline({ trace: feed.trace, names, heartbeats: (side) => feed.heartbeatsSent(side), actions: [save, open] });
  place('[data-timeline]', timeline.root);
  const client = new ClientPanel(feed, commands);
  life.own(() => client.dispose());
  const metrics = new Metrics();
  place('[data-lower]', client.root, metrics.root);

  await feed.started;
  const consoles = new ConsoleHistory();
  const shown: Partial<Record<'primary' | 'secondary', ConsoleFeed>> = {};
  const attachPanels = () => {
    for (const side of SIDES) {
      // After re-protection another PC holds the role.
      const pc = feed.pcIn(side);
      if (!pc) continue;
      const console = feed.console(pc.pc);
      shown[side] = console;
      panels[side].attach(console, feed.state.names[side], consoles.text(console));
    }
  };
  // A page that joins a two-tab run later may find the primary gone already.
  const first = feed.pcIn('primary');
  if (first?.alive && feed.state.fate.primary === 'alive') {
    // The snapshot's prompt was printed before this page existed: ask for a fresh one.
    const primaryConsole = feed.console(first.pc);
    const from = primaryConsole.end;
    type(first.pc, '\n');
    const stop = life.own(
      primaryConsole.onText(() => {
        if (!primaryConsole.has(SHELL_PROMPT, from)) return;
        document.body.dataset.interactiveMs = String(Math.round(performance.now()));
        stop();
      }),
    );
  }
  setStatus('PC A runs; PC B, built from the same booted snapshot, is receiving its first checkpoint…', 'syncing', 2);
  // A page that joins a running pair (another tab of a two-tab run) may find it unprotected, or past saving.
  // The consoles open once that is settled, either way: xterm's first open
  // measures its font and lays out (0.1–0.2 s of this thread), and before it
  // delayed the news of the first checkpoint by as much (bench:demo).
  try {
    await feed.waitFor(() => feed.state.protected || feed.state.canReprotect || feed.state.serviceLost !== undefined, 60_000, 'protected');
  } catch (err) {
    attachPanels();
    throw err;
  }
  setStatus('Protected: PC B holds a complete checkpoint of PC A.', 'protected', 4);
  hideProgress();
  document.body.dataset.protectedMs = String(Math.round(performance.now()));
  attachPanels();
  // The learner's shell goes on on the PC that took over, after what they saw on the one that failed.
  const continueConsole = () => {
    const { serving, names } = feed.state;
    const failed = shown.primary;
    const survivor = feed.pcIn('secondary');
    if (serving !== 'secondary' || !failed || !survivor) return;
    const to = feed.console(survivor.pc);
    const note = `\r\n\x1b[2m── ${names.primary} failed; ${names.secondary} goes on from checkpoint #${viewOf(feed.state, 'secondary').checkpoint}: what ${names.primary} printed after it never happened on ${names.secondary} ──\x1b[0m\r\n`;
    if (!consoles.takeOver(failed, to, note)) return;
    panels.secondary.showConsole(consoles.text(to));
    panels.secondary.selectTab(true);
    // A fresh prompt, as at the page's start: the restored shell may be mid-line.
    type(survivor.pc, '\n');
  };
  // When the pair last became protected (re-protection included) and last stopped being, for benchmarks: the views refresh only every 200 ms.
  let wasProtected = true;
  life.own(
    feed.subscribe(() => {
      const now = feed.state.protected;
      if (now && !wasProtected) document.body.dataset.protectedAt = String(performance.now());
      if (!now && wasProtected) document.body.dataset.unprotectedAt = String(performance.now());
      wasProtected = now;
      continueConsole();
    }),
  );

  const controls = new Controls(feed, commands);
  place('[data-controls]', controls.root);
  controls.root.append(tabs?.controls ?? oneTabNote(note));
  // A scenario link sets the controls up; what it names that the page does not know is said, not guessed.
  const { scenario, problems: scenarioProblems } = parseScenario(location.search);
  controls.apply(scenario);
  if (scenarioProblems.length > 0) {
    controls.root.append(
      h('p', { class: 'scenario-problems', 'data-scenario-problems': '', text: `This link's setup was not all understood: ${scenarioProblems.join('; ')}.` }),
    );
  }
  const tour = new Tour();
  place('body', tour.root);
  const tourButton = element('[data-action="tour"]') as HTMLButtonElement;
  tourButton.disabled = false;
  const openTour = () => tour.open();
  tourButton.addEventListener('click', openTour);
  life.own(() => tourButton.removeEventListener('click', openTour));

  let traced = 0;
  const refresh = () => {
    const state = feed.state;
    attachPanels();
    for (const side of SIDES) panels[side].update(viewOf(state, side));
    controls.update();
    tabs?.update();
    client.refresh();
    // `traced` counts events ever read; the trace itself drops its oldest ones.
    for (let i = Math.max(0, traced - feed.traceDropped); i < feed.trace.length; i++) {
      const event = feed.trace[i];
      if (event) client.onTrace(event);
    }
    traced = feed.traceDropped + feed.trace.length;
    document.body.dataset.serving = state.serving;
    document.body.dataset.protected = String(state.protected);
    document.body.dataset.falseFailovers = String(state.falseFailovers);
    document.body.dataset.dismissedSuspicions = String(state.dismissedSuspicions);
    const spare = state.spare;
    document.body.dataset.spare = spare ? (spare.ready ? 'ready' : 'starting') : 'none';
    const waits = state.spareWaitsFor;
    const spareLine = !spare
      ? ''
      : spare.ready
        ? ` ${spare.name} waits in standby to become the next secondary.`
        : waits
          ? ` ${spare.name}, the next secondary, waits for ${waits}.`
          : ` ${spare.name} is starting in standby, to become the next secondary.`;
    const pvm = viewOf(state, 'primary');
    const svm = viewOf(state, 'secondary');
    const lost = state.serviceLost;
    const headline = lost
      ? `Service lost: ${lost}.`
      : state.serving === 'secondary'
        ? `Failed over: ${state.names.secondary} serves the client from checkpoint #${svm.checkpoint}, alone (unprotected).${spareLine}`
        : state.protected && state.former
          ? `Protected by ${state.former.name}, which holds checkpoint #${state.former.checkpoint} and stays until ${state.names.secondary}, the new secondary, holds one: the secondary moves, make before break.`
          : state.protected
            ? `Protected: ${state.names.secondary} holds checkpoint #${secondaryHolds(state)}.${spare?.ready ? ` ${spare.name} waits in standby to replace whichever PC fails.` : ''}`
            : `Unprotected: ${pvm.roleDetail}${spare ? `.${spareLine}` : ''}`;
    setStatus(headline, lost ? 'lost' : state.serving === 'secondary' ? 'failed-over' : state.protected ? 'protected' : 'unprotected');
  };
  life.every(VIEW_REFRESH_MS, refresh);
  life.frames(() => timeline.render());

  // Per PC, not per role: a new PC in a role starts its own count. A count that
  // went back (a secondary loaded a checkpoint) says nothing about speed.
  const lastCount = new Map<number, { count: number; at: number }>();
  life.every(SLOW_REFRESH_MS, () => {
    const state = feed.state;
    metrics.render(feed.trace);
    metrics.renderDetection({
      heartbeat: state.config.heartbeat,
      peerBusyMs: state.config.heartbeat.busyMs,
      gaps: SIDES.map((side) => ({ name: state.names[side], gaps: state.status[side]?.heartbeatGaps })),
      dismissedSuspicions: state.dismissedSuspicions,
      falseFailovers: state.falseFailovers,
    });
    for (const side of SIDES) {
      const panel = panels[side];
      const pc = feed.pcIn(side);
      if (!pc?.alive || state.fate[side] !== 'alive') {
        panel.showRate(undefined);
        panel.showMemory(undefined);
        continue;
      }
      // A PC may end between the check above and the answer: then it shows nothing.
      const unknown = () => (panel.showRate(undefined), panel.showMemory(undefined));
      void commands.read(pc.pc, 'instructionCount').then((count) => {
        const before = lastCount.get(pc.pc);
        const at = performance.now();
        lastCount.set(pc.pc, { count, at });
        panel.showRate(before === undefined || count < before.count || at <= before.at ? undefined : ((count - before.count) * 1000) / (at - before.at));
      }, unknown);
      void commands.read(pc.pc, 'textScreen').then((rows) => panel.showScreen(rows), unknown);
      void commands.read(pc.pc, 'memoryUse').then((use) => panel.showMemory(use), unknown);
    }
  });
  refresh();
  return () => life.end();
}

/** In a one-tab run: how to run the PCs in two tabs instead, or why this browser cannot. */
function oneTabNote(note: string | undefined): HTMLElement {
  if (note) return h('p', { class: 'tab-runs', 'data-tab-runs': '', text: note });
  const link = h('a', { href: '?tabs', target: '_blank', 'data-action': 'two-tabs', text: 'Open a two-tab run' });
  return h(
    'p',
    { class: 'tab-runs', 'data-tab-runs': '' },
    'Both PCs run in this tab. ',
    link,
    ': the host moves to a worker the tabs share, and each PC can have a tab of its own — close the primary’s to pull its plug.',
  );
}
