// The demo page's entry. It starts the two PCs first and only then loads the
// views (xterm.js and the rest, most of the page's script), so the workers
// fetch and restore the guest while the page builds itself. With `?replay`
// it starts no PCs and opens a saved run instead.
import { ColoCluster } from '../engine/host/cluster.ts';
import { DEFAULT_REPLICATION } from '../engine/replication/config.ts';
import { spawnBrowserVm } from '../engine/worker/spawn.browser.ts';
import { setStatus } from './status.ts';

const failed = (err: unknown) => {
  setStatus(`Failed: ${err instanceof Error ? err.message : String(err)}`, 'failed');
  console.error(err);
};

if (new URLSearchParams(location.search).has('replay')) {
  import('./replay.ts').then(({ showReplay }) => showReplay()).catch(failed);
} else {
  const cluster = new ColoCluster({
    spawn: spawnBrowserVm,
    assetBase: new URL(import.meta.env.BASE_URL, location.href).href,
    replication: DEFAULT_REPLICATION,
  });
  setStatus('Fetching and verifying the guest (BIOS, booted snapshot)…', 'loading', 1);
  const started = cluster.start();
  // The page reports a failed start once it is built; until then nothing is unhandled.
  started.catch(() => {});

  import('./page.ts')
    .then(({ showPage }) => showPage(cluster, started))
    .catch(failed);
}
