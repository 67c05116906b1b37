// One tab of a two-tab run: it joins the shared host, shows the pair from the
// host's updates, runs the VM workers the host asks it for, and offers to
// open a new tab for the secondary. Closing the tab ends its workers, and with
// them its PCs: the failure the demo is about.
import { spawnPortedVm } from '../../engine/worker/spawn.browser.ts';
import { h } from '../dom.ts';
import type { TabsUi } from '../page.ts';
import { ClusterMirror } from './cluster-mirror.ts';
import { leaveWithThePage } from './page-lifecycle.ts';
import { TABS_QUERY, type HostAction, type HostMessage, type TabMessage } from './host-messages.ts';

/** Joins (or starts) the shared host; resolves once the host has said where the pair stands. */
export function joinSharedHost(assetBase: string): Promise<ClusterMirror> {
  const host = new SharedWorker(new URL('./host.shared-worker.ts', import.meta.url), { type: 'module', name: 'colo-v86 host' });
  const port = host.port;
  const post = (message: TabMessage, transfer: Transferable[] = []) => port.postMessage(message, transfer);
  const calls = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let callCount = 0;
  const call = (action: HostAction) =>
    new Promise<unknown>((resolve, reject) => {
      calls.set(++callCount, { resolve, reject });
      post({ type: 'call', call: callCount, action });
    });
  const mirror = new ClusterMirror(call);
  // A new pair means a new page: every view starts from it.
  mirror.onNewPair = () => location.reload();
  const workers = new Map<number, Worker>();
  const heard = new Promise<ClusterMirror>((resolve) => {
    port.onmessage = (event: MessageEvent<HostMessage>) => {
      const message = event.data;
      switch (message.type) {
        case 'update':
          mirror.apply(message.update);
          resolve(mirror);
          return;
        case 'result': {
          const waiting = calls.get(message.call);
          calls.delete(message.call);
          if (message.error !== undefined) waiting?.reject(new Error(message.error));
          else waiting?.resolve(message.value);
          return;
        }
        case 'spawn': {
          const { port: vmPort, worker } = spawnPortedVm();
          workers.set(message.pc, worker);
          post({ type: 'spawned', pc: message.pc, port: vmPort }, [vmPort]);
          return;
        }
        case 'end':
          workers.get(message.pc)?.terminate();
          workers.delete(message.pc);
          return;
      }
    };
  });
  // The host hears from the PCs themselves that they are gone; the goodbye tells it not to start PCs here.
  leaveWithThePage(window, {
    endPcs: () => {
      for (const worker of workers.values()) worker.terminate();
      workers.clear();
    },
    sayGoodbye: () => post({ type: 'bye' }),
    reload: () => location.reload(),
  });
  port.start();
  post({ type: 'join', assetBase });
  return heard;
}

/** The page's two-tab controls: which PCs this tab runs, and opening a new tab for the secondary. */
export class TabControls implements TabsUi {
  readonly controls: HTMLElement;
  private readonly runs: HTMLElement;
  private readonly move: HTMLButtonElement;
  private readonly reprotect: HTMLButtonElement;

  constructor(private readonly mirror: ClusterMirror) {
    this.runs = h('p', { class: 'tab-runs', 'data-tab-runs': '' });
    this.move = h('button', { type: 'button', 'data-action': 'move-secondary', text: 'Move the secondary to a new tab' });
    this.move.title = 'The secondary here retires; a fresh PC in a new tab receives the primary’s whole state and becomes the secondary';
    this.move.addEventListener('click', () => void this.inNewTab(() => mirror.moveSecondary()));
    this.reprotect = h('button', { type: 'button', 'data-action': 'reprotect-in-tab', text: 'Start a new secondary in a new tab' });
    // A spare may already wait for a tab (the host starts one as soon as a pair is unprotected): the new tab is all it needs.
    this.reprotect.addEventListener('click', () => void this.inNewTab(() => (mirror.canReprotect ? mirror.reprotect() : Promise.resolve())));
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
    const mine = this.mirror.pcsInTab();
    this.runs.textContent =
      mine.length > 0 ? `This tab runs ${mine.join(' and ')}: closing it ends ${mine.length > 1 ? 'them' : 'it'}, as pulling the plug would.` : 'This tab runs no PC: it only shows the pair.';
    this.runs.dataset.tabRuns = mine.join(',');
    this.move.disabled = !(this.mirror.protected && this.mirror.serving === 'primary');
    // A spare waiting for a tab is started by opening one, as is a new secondary.
    this.reprotect.disabled = !this.mirror.canReprotect && !this.mirror.waitingForTab;
  }
}
