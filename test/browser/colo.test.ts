// COLO with real v86 guests in real Web Workers of Chromium: the same kill
// scenarios as under Node, run in the page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KillResult } from '../support/scenarios.ts';
import { STAGES } from '../support/scenarios.ts';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

let rig: BrowserRig;
beforeAll(async () => {
  rig = await startBrowserRig();
});
afterAll(async () => {
  await rig?.close();
});

describe('killing the primary in Chromium', () => {
  it.each(STAGES.map((s) => s.name))('%s: the secondary takes over and nothing released is lost', async (stage) => {
    const { page, problems } = await rig.open('/test/browser/blank.html');
    const result = (await page.evaluate(`(async () => {
      const { killPrimaryAt } = await import('/test/support/scenarios.ts');
      const { spawnBrowserVm } = await import('/engine/worker/spawn.browser.ts');
      return killPrimaryAt(spawnBrowserVm, new URL('/', location.href).href, ${JSON.stringify(stage)});
    })()`)) as KillResult;
    expect(result.takeoverFrom).toBe(result.expectedFrom);
    expect(result.finalReply).toBe(result.expectedFinalReply);
    // The disk came with the checkpoint: read back (the ledger restarted, the guest's caches dropped), it holds each answered id once, and the total.
    expect(result.journalIds).toEqual(result.idsSent);
    expect(result.replyAfterReadBack?.split(' ').slice(1)).toEqual(result.expectedFinalReply.split(' ').slice(1));
    expect(result.report.violations).toEqual([]);
    expect(result.report.audits).toBe(1);
    expect(result.secondary).toMatchObject({ role: 'primary', failover: 'completed' });
    expect(problems).toEqual([]);
    await page.close();
  });
});
