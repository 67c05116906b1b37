// A worker joins one GuestMachine with its replication role and serves both
// over a comlink endpoint. The platform entries (worker.browser.ts,
// worker.node.ts) only choose the endpoint and the asset source.
import * as Comlink from 'comlink';
import { GUEST_CONFIG } from '../vm/guest-config.ts';
import type { AssetSource } from '../vm/asset-source.ts';
import { GuestMachine } from '../vm/machine.ts';
import type { MachineApi } from '../vm/machine-api.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import { EventBatcher } from '../replication/event-batcher.ts';
import type { ReplicationEvent, ReplicationListener } from '../replication/events.ts';
import { PrimaryDriver } from '../replication/primary-driver.ts';
import type { PeerPort } from '../replication/ports.ts';
import { realClock } from '../replication/ports.ts';
import type { ReplicationApi } from '../replication/replication-api.ts';
import { SecondaryDriver } from '../replication/secondary-driver.ts';

export interface WorkerApi {
  machine: MachineApi;
  replication: ReplicationApi;
}

export function serveWorker(endpoint: Comlink.Endpoint, openSource: (assetBase: string) => AssetSource): void {
  const machine = new GuestMachine(openSource);
  let driver: PrimaryDriver | SecondaryDriver | undefined;
  let frozen = false;

  const attach = (make: (emit: (event: ReplicationEvent) => void) => PrimaryDriver | SecondaryDriver, listener: ReplicationListener) => {
    if (driver) throw new Error('replication: this worker already has a role');
    const batcher = new EventBatcher<ReplicationEvent>((events) => listener(events));
    driver = make((event) => batcher.push(event));
  };
  const need = () => {
    if (!driver) throw new Error('replication: not started');
    return driver;
  };

  const replication: ReplicationApi = {
    startPrimary: (port, config: ReplicationConfig, listener) =>
      attach((emit) => new PrimaryDriver(machine, port as PeerPort, realClock, config, emit), listener),
    startSecondary: (port, config: ReplicationConfig, listener) =>
      attach((emit) => new SecondaryDriver(machine, port as PeerPort, realClock, config, GUEST_CONFIG.memoryBytes, emit), listener),
    checkpointNow: () => {
      const d = need();
      if (d instanceof PrimaryDriver) d.checkpointNow();
    },
    setPeriod: (ms) => {
      const d = need();
      if (d instanceof PrimaryDriver) d.setPeriod(ms);
    },
    lostHeartbeat: () => need().lostHeartbeat(),
    setGate: (gate) => need().setGate(gate),
    step: () => need().step(),
    status: () => driver?.status(),
    setOutputCommit: (mode) => {
      const d = need();
      if (d instanceof PrimaryDriver) d.setOutputCommit(mode);
    },
    freeze: () => {
      frozen = true;
      need().freeze();
    },
    cutLink: () => need().cutLink(),
    ping: () => (frozen ? new Promise<true>(() => {}) : Promise.resolve(true)),
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
      sendSerial: (port, text) => machine.sendSerial(port, text),
      textScreen: () => machine.textScreen(),
      instructionCount: () => machine.instructionCount(),
      destroy: async () => {
        driver?.dispose();
        await machine.destroy();
      },
    },
    replication,
  };
  Comlink.expose(api, endpoint);
}
