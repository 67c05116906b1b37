// Where a VM worker serves its commands. A worker the page drives serves on
// its own global scope; one whose host is elsewhere (the shared worker of a
// two-tab run) is started by a tab under PORTED_WORKER_NAME and serves on
// the first port it is sent, so the host talks to it directly and the tab
// carries none of its traffic.
import type * as Comlink from 'comlink';

export const PORTED_WORKER_NAME = 'v86-vm (host elsewhere)';

interface WorkerScope extends Comlink.Endpoint {
  readonly name: string;
}

/** The endpoint this worker's commands arrive on. */
export function workerEndpoint(scope: WorkerScope): Promise<Comlink.Endpoint> {
  if (scope.name !== PORTED_WORKER_NAME) return Promise.resolve(scope);
  return new Promise((resolve) => {
    const first = (event: MessageEvent) => {
      const port = event.ports[0];
      if (!port) return;
      scope.removeEventListener('message', first as EventListener);
      resolve(port);
    };
    scope.addEventListener('message', first as EventListener);
  });
}
