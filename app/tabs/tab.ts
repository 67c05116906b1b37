// One tab of a two-tab run: it joins the shared host, keeps its page's feed
// from the host's updates, sends the page's commands to the host, runs the VM
// workers the host asks it for, and offers to open a new tab for the
// secondary. Closing the tab ends its workers, and with them its PCs: the
// failure the demo is about.
import * as Comlink from 'comlink';
import { ClusterFeed } from '../../engine/host/feed.ts';
import { commandsVia, type ClusterCommands } from '../../engine/host/surface.ts';
import { spawnPortedVm } from '../../engine/worker/spawn.browser.ts';
import { h } from '../dom.ts';
import type { TabsUi } from '../page.ts';
import { TABS_QUERY, type HostEntry, type TabApi } from './host-entry.ts';
import { leaveWithThePage } from './page-lifecycle.ts';

export interface JoinedTab {
  feed: ClusterFeed;
  commands: ClusterCommands;
  /** This tab's number at the host. */
  tab: number;
}

/** Joins (or starts) the shared host; resolves once the host has taken this tab in. */
export async function joinSharedHost(assetBase: string): Promise<JoinedTab> {
  const worker = new SharedWorker(new URL('./host.shared-worker.ts', import.meta.url), { type: 'module', name: 'colo-v86 host' });
  const host = Comlink.wrap<HostEntry>(worker.port);
  const feed = new ClusterFeed();
  // A new pair means a new page: every view starts from it.
  feed.onNewPair = () => location.reload();
  const workers = new Map<number, Worker>();
  let count = 0;
  const tabApi: TabApi = {
    spawn() {
      const { port, worker: vm } = spawnPortedVm();
      workers.set(++count, vm);
      return Comlink.transfer({ id: count, port }, [port]);
    },
    end(id) {
      workers.get(id)?.terminate();
      workers.delete(id);
    },
  };
  // The host hears from the PCs themselves that they are gone; the goodbye tells it not to start PCs here.
  leaveWithThePage(window, {
    endPcs: () => {
      for (const vm of workers.values()) vm.terminate();
      workers.clear();
    },
    sayGoodbye: () => void host.leave(),
    reload: () => location.reload(),
  });
  const update = (u: Parameters<ClusterFeed['apply']>[0]) => feed.apply(u);
  const tab = await host.join(Comlink.proxy(tabApi) as unknown as TabApi, assetBase, Comlink.proxy(update));
  return { feed, commands: commandsVia((command) => host.dispatch(command)), tab };
}

/** The page's two-tab controls: which PCs this tab runs, and opening a new tab for the secondary. */
export class TabControls implements TabsUi {
  readonly controls: HTMLElement;
  private readonly runs: HTMLElement;
  private readonly move: HTMLButtonElement;
  private readonly reprotect: HTMLButtonElement;

  constructor(private readonly joined: JoinedTab) {
    const { commands } = joined;
    this.runs = h('p', { class: 'tab-runs', 'data-tab-runs': '' });
    this.move = h('button', { type: 'button', 'data-action': 'move-secondary', text: 'Move the secondary to a new tab' });
    this.move.title =
      'A fresh PC starts in a new tab while this secondary goes on protecting; then this one retires and the new one receives the primary’s state';
    this.move.addEventListener('click', () => void this.inNewTab(() => commands.moveSecondary()));
    this.reprotect = h('button', { type: 'button', 'data-action': 'reprotect-in-tab', text: 'Start a new secondary in a new tab' });
    // A spare may already wait for a tab (the host starts one as soon as a pair is unprotected): the new tab is all it needs.
    this.reprotect.addEventListener('click', () => void this.inNewTab(() => (joined.feed.state.canReprotect ? commands.reprotect() : Promise.resolve())));
    this.controls = h('div', { class: 'group tabs-controls', 'data-tabs': '' }, this.runs, this.move, this.reprotect);
  }

  /**
   * Opens a tab for the next PC (in the click, so no popup blocker stops it;
   * a window of its own, so both can be seen) and asks the host for the PC:
   * the host starts it in a tab that runs none yet.
   */
  private async inNewTab(ask: () => Promise<void>): Promise<void> {
    const url = new URL(location.href);
    url.search = `?${TABS_QUERY}`;
    window.open(url.href, `colo-v86-${crypto.randomUUID()}`, 'popup,width=1200,height=900');
    try {
      await ask();
    } catch (err) {
      this.runs.textContent = `Could not start a PC in a new tab: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  update(): void {
    const state = this.joined.feed.state;
    const mine = state.pcs.filter((pc) => pc.tab === this.joined.tab && pc.alive).map((pc) => pc.name);
    this.runs.textContent =
      mine.length > 0
        ? `This tab runs ${mine.join(' and ')}: closing it ends ${mine.length > 1 ? 'them' : 'it'}, as pulling the plug would.`
        : 'This tab runs no PC: it only shows the pair.';
    this.runs.dataset.tabRuns = mine.join(',');
    this.move.disabled = !(state.protected && state.serving === 'primary');
    // A spare waiting for a tab is started by opening one, as is a new secondary.
    this.reprotect.disabled = !state.canReprotect && state.spareWaitsFor === undefined;
  }
}
