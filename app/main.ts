// The demo page's entry. It starts the two PCs first and only then loads the
// views (xterm.js and the rest, most of the page's script), so the workers
// fetch and restore the guest while the page builds itself. With `?replay`
// it starts no PCs and opens a saved run instead; with `?tabs` the host runs
// in a SharedWorker and the PCs can live in different tabs.
import { ClusterFeed } from '../engine/host/feed.ts';
import { ClusterService } from '../engine/host/service.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { spawnBrowserVm } from '../engine/worker/spawn.browser.ts';
import { setStatus } from './status.ts';
import { TABS_QUERY } from './tabs/host-entry.ts';

const failed = (err: unknown) => {
  setStatus(`Failed: ${err instanceof Error ? err.message : String(err)}`, 'failed');
  console.error(err);
};

const query = new URLSearchParams(location.search);
const assetBase = new URL(import.meta.env.BASE_URL, location.href).href;

/** Both PCs and the host in this page. */
function runInThisTab(note?: string): void {
  // A spare waits once the pair is protected: re-protection after any fault then starts no PC.
  const service = new ClusterService({ spawn: spawnBrowserVm, assetBase, replication: DEFAULT_REPLICATION, warmSpare: true });
  const feed = new ClusterFeed();
  service.watch((update) => feed.apply(update));
  setStatus('Fetching and verifying the guest (BIOS, booted snapshot)…', 'loading', 1);
  // The page reports a failed start (its feed says why); until then nothing is unhandled.
  service.start().catch(() => {});
  import('./page.ts').then(({ showPage }) => showPage(feed, service, { note })).catch(failed);
}

/** The host in a SharedWorker shared by this origin's tabs; this tab shows the pair and runs the PCs the host asks for. */
function runWithSharedHost(): void {
  setStatus('Joining the host that the tabs share…', 'loading', 1);
  Promise.all([import('./tabs/tab.ts'), import('./page.ts')])
    .then(async ([{ joinSharedHost, TabControls }, { showPage }]) => {
      const joined = await joinSharedHost(assetBase);
      await showPage(joined.feed, joined.commands, { tabs: new TabControls(joined) });
    })
    .catch(failed);
}

if (query.has('replay')) {
  import('./replay.ts').then(({ showReplay }) => showReplay()).catch(failed);
} else if (query.has(TABS_QUERY)) {
  if (typeof SharedWorker === 'function') runWithSharedHost();
  else runInThisTab('This browser has no SharedWorker, which a host shared by two tabs needs: both PCs run in this tab.');
} else {
  runInThisTab();
}
