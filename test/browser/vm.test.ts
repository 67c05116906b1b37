// The real guest in real v86 in Web Workers of Debian's Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

let rig: BrowserRig;
beforeAll(async () => {
  rig = await startBrowserRig();
});
afterAll(async () => {
  await rig?.close();
});

const openPage = (path: string) => rig.open(path);

describe('the VM adapter in a Web Worker', () => {
  it('boots the kernel to a shell and a ledger without the snapshot', async () => {
    const { page, problems } = await openPage('/test/browser/blank.html');
    const result = await page.evaluate(`(async () => {
      const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
      const { SHELL_PROMPT, LEDGER_READY } = await import('/engine/vm/guest-protocol.ts');
      const vm = spawnBrowserVm();
      await vm.start({ mode: 'boot', assetBase: new URL('/', location.href).href });
      await vm.waitForOutput(0, SHELL_PROMPT, 90000);
      await vm.waitForOutput(1, LEDGER_READY, 90000);
      const out = { kernel: vm.transcript(0).includes('Linux version 6.1.0'), shell: await vm.shell('echo booted $((1 + 1))'),
        ledger: [await vm.ledger('k1', 'add 3'), await vm.ledger('k1', 'add 3'), await vm.ledger('k2', 'get')] };
      vm.terminate();
      return out;
    })()`);
    expect(result).toEqual({ kernel: true, shell: 'booted 2\n', ledger: ['k1 ok 3', 'k1 ok 3', 'k2 ok 3'] });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('serves the ledger and carries its total to a second worker through save/restore', async () => {
    const { page, problems } = await openPage('/test/browser/blank.html');
    // Runs in the page: Vite serves the engine's TypeScript modules as ES modules.
    const result = await page.evaluate(`(async () => {
      const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
      const base = new URL('/', location.href).href;
      const first = spawnBrowserVm();
      const second = spawnBrowserVm();
      await Promise.all([first.start({ mode: 'snapshot', assetBase: base }), second.start({ mode: 'snapshot', assetBase: base })]);
      const replies = [];
      replies.push(await first.ledger('w1', 'add 20'));
      replies.push(await first.ledger('w2', 'add 22'));
      replies.push(await first.ledger('w1', 'add 20'));
      const shell = await first.shell('echo $((6 * 7))');
      await first.machine.stop();
      const state = await first.saveState();
      const stateBytes = state.byteLength;
      await second.restoreState(state);
      const detached = state.byteLength === 0;
      replies.push(await second.ledger('w3', 'add 1'));
      replies.push(await second.ledger('w2', 'add 22'));
      let refused = '';
      try { await second.restoreState(new ArrayBuffer(8)); } catch (err) { refused = err.message; }
      replies.push(await second.ledger('w4', 'get'));
      first.terminate();
      second.terminate();
      return { replies, shell, stateBytes, detached, refused };
    })()`);
    expect(result).toEqual({
      replies: ['w1 ok 20', 'w2 ok 42', 'w1 ok 20', 'w3 ok 43', 'w2 ok 42', 'w4 ok 43'],
      shell: '42\n',
      stateBytes: expect.any(Number),
      detached: true,
      refused: 'state: truncated, 8 bytes is less than the 16-byte header',
    });
    expect(problems).toEqual([]);
    await page.close();
  });
});
