// A worker joins one GuestMachine with its replication role and serves both
// over a comlink endpoint. The platform entries (worker.browser.ts,
// worker.node.ts) only choose the endpoint and the asset source.
import * as Comlink from 'comlink';
import type { PeerPort } from '../replication/ports.ts';
import { realClock } from '../replication/ports.ts';
import type { ReplicationApi } from '../replication/replication-api.ts';
import { ReplicationHost } from '../replication/replication-host.ts';
import { machineStatePaths } from './state-paths.ts';
import type { AssetSource } from '../vm/asset-source.ts';
import { GUEST_CONFIG } from '../vm/guest-config.ts';
import { GuestMachine } from '../vm/machine.ts';
import type { MachineApi } from '../vm/machine-api.ts';

export interface WorkerApi {
  machine: MachineApi;
  replication: ReplicationApi;
  /** This worker's JavaScript heap in use, in bytes (NaN where the platform does not say). */
  heapUsed(): number;
}

export function serveWorker(endpoint: Comlink.Endpoint, openSource: (assetBase: string) => AssetSource, heapUsed: () => number): void {
  const machine = new GuestMachine(openSource);
  const role = new ReplicationHost(machine, realClock, machineStatePaths(machine, GUEST_CONFIG.memoryBytes));

  const replication: ReplicationApi = {
    startPrimary: (port, config, listener) => role.startPrimary(port as unknown as PeerPort, config, listener),
    startSecondary: (port, config, listener) => role.startSecondary(port as unknown as PeerPort, config, listener),
    checkpointNow: () => role.checkpointNow(),
    setPeriod: (ms) => role.setPeriod(ms),
    lostHeartbeat: () => role.lostHeartbeat(),
    confirmAlone: () => role.confirmAlone(),
    setGate: (gate) => role.setGate(gate),
    step: () => role.step(),
    status: () => role.status(),
    setOutputCommit: (mode) => role.setOutputCommit(mode),
    setMode: (mode) => role.setMode(mode),
    setCompare: (compare) => role.setCompare(compare),
    freeze: () => role.freeze(),
    cutLink: () => role.cutLink(),
    ping: () => role.ping(),
  };

  const api: WorkerApi = {
    machine: {
      start: (options, listener) => machine.start(options, listener),
      run: () => machine.run(),
      stop: () => machine.stop(),
      isRunning: () => machine.isRunning(),
      saveState: async () => {
        const state = await machine.saveState();
        return Comlink.transfer(state, [state]);
      },
      restoreState: (state) => machine.restoreState(state),
      sendSerial: (port, data, at) => machine.sendSerial(port, data, at),
      textScreen: () => machine.textScreen(),
      instructionCount: () => machine.instructionCount(),
      destroy: async () => {
        role.dispose();
        await machine.destroy();
      },
    },
    replication,
    heapUsed,
  };
  Comlink.expose(api, endpoint);
}
