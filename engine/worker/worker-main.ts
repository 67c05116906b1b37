// A worker joins one GuestMachine with its replication role and serves both
// over a comlink endpoint. The platform entries (worker.browser.ts,
// worker.node.ts) only choose the endpoint and the asset source.
import * as Comlink from 'comlink';
import { realClock } from '../replication/ports.ts';
import type { ReplicationCommands } from '../replication/commands.ts';
import { ReplicationRole } from '../replication/replication-role.ts';
import { machineStatePaths } from './state-paths.ts';
import type { AssetSource } from '../vm/asset-source.ts';
import { GUEST_CONFIG } from '../vm/guest-config.ts';
import { GuestMachine } from '../vm/machine.ts';
import type { MachineApi } from '../vm/machine-api.ts';

export interface WorkerApi {
  machine: MachineApi;
  replication: ReplicationCommands;
  /** This worker's JavaScript heap in use, in bytes (NaN where the platform does not say). */
  heapUsed(): number;
}

export function serveWorker(endpoint: Comlink.Endpoint, openSource: (assetBase: string) => AssetSource, heapUsed: () => number): void {
  const machine = new GuestMachine(openSource);
  const paths = machineStatePaths(machine, GUEST_CONFIG.memoryBytes);
  const role = new ReplicationRole(machine, realClock, paths);

  const api: WorkerApi = {
    machine: {
      start: (options, listener) => machine.start(options, listener, (image) => paths.adoptBase?.(image, options.mode === 'standby')),
      run: () => machine.run(),
      stop: () => machine.stop(),
      isRunning: () => machine.isRunning(),
      saveState: async () => {
        const state = await machine.saveState();
        return Comlink.transfer(state, [state]);
      },
      restoreState: (state) => machine.restoreState(state),
      sendSerial: (port, data, at) => machine.sendSerial(port, data, at),
      armReboot: () => machine.armReboot(),
      textScreen: () => machine.textScreen(),
      instructionCount: () => machine.instructionCount(),
      memoryUse: () => machine.memoryUse(),
      destroy: async () => {
        role.dispose();
        await machine.destroy();
      },
    },
    // The role is the command surface itself: comlink calls its methods.
    replication: role,
    heapUsed,
  };
  Comlink.expose(api, endpoint);
}
