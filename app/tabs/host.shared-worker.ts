// The SharedWorker entry of a two-tab run: one host for every tab of this
// origin (engine/host/shared-host.ts), each tab reached over its port with
// comlink; a PC a tab starts is driven through a port straight to its worker.
import * as Comlink from 'comlink';
import { SharedHost, type TabConnection } from '../../engine/host/shared-host.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';
import { portedVmHandle } from '../../engine/worker/ported-vm.ts';
import type { VmHandle } from '../../engine/worker/vm-handle.ts';
import type { HostEntry } from './host-entry.ts';

const host = new SharedHost<VmHandle>({ replication: DEFAULT_REPLICATION });
const scope = self as unknown as { onconnect: ((event: MessageEvent) => void) | null };
scope.onconnect = (event) => {
  const port = event.ports[0];
  if (!port) return;
  let connection: TabConnection | undefined;
  const entry: HostEntry = {
    async join(tab, assetBase, update) {
      const spawn = async () => {
        const { id, port: vm } = await tab.spawn();
        return portedVmHandle(vm, { terminate: () => void tab.end(id) });
      };
      connection = host.join({ spawn, update: (u) => void update(u) }, assetBase);
      return connection.tab;
    },
    dispatch: (command) => (connection ? connection.dispatch(command) : Promise.reject(new Error('this tab has not joined'))),
    leave: () => connection?.leave(),
  };
  Comlink.expose(entry, port);
};
