// Serves one GuestMachine over a comlink endpoint; the platform entries
// (worker.browser.ts, worker.node.ts) only choose the endpoint and asset source.
import * as Comlink from 'comlink';
import type { AssetSource } from './asset-source.ts';
import { GuestMachine } from './machine.ts';
import type { MachineApi } from './machine-api.ts';

export function serveMachine(endpoint: Comlink.Endpoint, openSource: (assetBase: string) => AssetSource): void {
  const machine = new GuestMachine(openSource);
  const api: MachineApi = {
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
    destroy: () => machine.destroy(),
  };
  Comlink.expose(api, endpoint);
}
