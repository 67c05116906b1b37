// The SharedWorker entry of a two-tab run: one host for every tab of this origin.
import { SharedHost } from './shared-host.ts';

const host = new SharedHost();
const scope = self as unknown as { onconnect: ((event: MessageEvent) => void) | null };
scope.onconnect = (event) => {
  const port = event.ports[0];
  if (port) host.connect(port);
};
