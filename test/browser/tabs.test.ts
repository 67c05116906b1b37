// A two-tab run, as a person makes one: the host in a SharedWorker, the
// secondary moved to a tab of its own, and a tab closed or reloaded as the
// failure. The tabs are pages of one browser context, so they share the host.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, watchProblems, type BrowserRig } from './chromium.ts';

let rig: BrowserRig;
beforeAll(async () => {
  // The page as `npm start` serves it.
  rig = await startBrowserRig('build');
});
afterAll(async () => {
  await rig?.close();
});

interface TwoTabRun {
  context: BrowserContext;
  /** Runs the primary. */
  first: Page;
  /** Runs the secondary. */
  second: Page;
  problems: string[];
}

const isProtected = (page: Page) => page.getAttribute('body', 'data-protected');
const tabRuns = (page: Page) => page.getAttribute('[data-tab-runs]', 'data-tab-runs');

/** Waits until `page` says the pair is protected (or is not); failing, names what the page said instead. */
async function expectProtected(page: Page, protectedNow = true, timeoutMs = 60_000): Promise<void> {
  try {
    await page.waitForSelector(`body[data-protected="${protectedNow}"]`, { state: 'attached', timeout: timeoutMs });
  } catch {
    const said = await page.evaluate(() => ({
      status: document.querySelector('[data-status]')?.textContent,
      roles: [...document.querySelectorAll('.vm-panel')].map(
        (panel) => `${panel.getAttribute('data-side')}: ${panel.querySelector('[data-role]')?.textContent}`,
      ),
    }));
    throw new Error(
      `waited ${timeoutMs / 1000} s for this tab to say protected=${protectedNow}; it says "${said.status ?? ''}" (${said.roles.join(', ')}; this tab runs ${(await tabRuns(page)) ?? 'nothing'})`,
    );
  }
}

/** The PC names a tab says it runs, once the page shows them. */
async function expectTabRuns(page: Page, names: string): Promise<void> {
  await expect.poll(() => tabRuns(page), { timeout: 60_000 }).toBe(names);
}

async function clientCounts(page: Page): Promise<{ sent: number; answered: number }> {
  const match = /^(\d+) sent, (\d+) answered/.exec((await page.textContent('.counts')) ?? '');
  return { sent: Number(match?.[1]), answered: Number(match?.[2]) };
}

/** Clicks a control that opens a tab; returns that tab. */
async function openedBy(context: BrowserContext, page: Page, action: string, problems: string[]): Promise<Page> {
  const opened = context.waitForEvent('page');
  await page.click(`[data-action="${action}"]`);
  const tab = await opened;
  problems.push(...(await watchProblems(tab)));
  return tab;
}

/** A protected two-tab run: PC A in the first tab, the secondary (PC C; PC B retired once PC C held a checkpoint) in the second. */
async function openTwoTabRun(): Promise<TwoTabRun> {
  const context = await rig.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const first = await context.newPage();
  const problems = await watchProblems(first);
  await first.goto(new URL('/?tabs', rig.baseUrl).href);
  await first.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
  await expectTabRuns(first, 'PC A,PC B');
  const second = await openedBy(context, first, 'move-secondary', problems);
  await expectTabRuns(second, 'PC C');
  await expectTabRuns(first, 'PC A');
  await expectProtected(first);
  return { context, first, second, problems };
}

/** The page now serves from `page`'s tab: answers keep coming, none was lost or contradicted, and the ledger's total is exact. */
async function expectServesWithNothingLost(page: Page): Promise<void> {
  const { answered } = await clientCounts(page);
  await expect.poll(async () => (await clientCounts(page)).answered, { timeout: 30_000 }).toBeGreaterThanOrEqual(answered + 2);
  await page.click('[data-action="audit"]');
  await expect.poll(() => page.getAttribute('[data-audit]', 'data-audit'), { timeout: 60_000 }).toBe('ok');
  expect(await page.getAttribute('[data-consistency]', 'data-consistency')).toBe('0');
}

describe('a two-tab run', () => {
  it('moves the secondary to its own tab; closing the primary’s tab between checkpoints fails over to it, and nothing is lost', async () => {
    const { context, first, second, problems } = await openTwoTabRun();
    await first.screenshot({ path: 'test-results/tabs-first.png' });
    await first.close({ runBeforeUnload: false });
    await second.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect.poll(() => second.textContent('[data-status]')).toMatch(/^Failed over: PC C serves the client from checkpoint #\d+, alone/);
    await expect.poll(() => second.getAttribute('[data-side="primary"]', 'data-role')).toBe('dead');
    // The host did not end PC A: its tab did, and the host knew it was no false alarm.
    expect(await second.getAttribute('body', 'data-false-failovers')).toBe('0');
    await expectServesWithNothingLost(second);
    await second.screenshot({ path: 'test-results/tabs-after-close.png' });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a move whose primary is killed before the new secondary holds a checkpoint: the old secondary takes over, and nothing is lost', async () => {
    const context = await rig.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const first = await context.newPage();
    const problems = await watchProblems(first);
    await first.goto(new URL('/?tabs', rig.baseUrl).href);
    await first.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    // The new secondary stops before its checkpoint-ready: the new pair cannot take checkpoint 1.
    await first.selectOption('[data-control="break-before"]', 'checkpoint-ready');
    const second = await openedBy(context, first, 'move-secondary', problems);
    await expectTabRuns(second, 'PC C');
    await expect
      .poll(() => first.textContent('[data-status]'), { timeout: 60_000 })
      .toMatch(/^Protected by PC B, which holds checkpoint #\d+ and stays until PC C, the new secondary, holds one/);
    expect(await isProtected(first)).toBe('true');
    await first.click('[data-action="kill-primary"]');
    await expect.poll(() => first.textContent('[data-status]'), { timeout: 30_000 }).toMatch(/^Failed over: PC B serves the client from checkpoint #\d+/);
    await first.selectOption('[data-control="break-before"]', '');
    await expectServesWithNothingLost(first);
    expect(problems).toEqual([]);
    await context.close();
  });

  for (const held of ['vmstate-size', 'vmstate-received'] as const) {
    it(`closing the primary’s tab in the middle of a checkpoint (${held} held) loses nothing`, async () => {
      const { context, first, second, problems } = await openTwoTabRun();
      await second.selectOption('[data-control="break-before"]', held);
      await expect
        .poll(() => second.textContent('[data-break-status]'), { timeout: 30_000 })
        .toMatch(new RegExp(`^Stopped before ${held} of checkpoint #\\d+`));
      await first.close({ runBeforeUnload: false });
      await second.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
      await expectServesWithNothingLost(second);
      expect(problems).toEqual([]);
      await context.close();
    });
  }

  // Ten cycles of a tab closed and a new one protected: 115 s in a loaded npm test, near vitest's 120 s limit.
  it('closing the secondary’s tab, then a new secondary in a new tab: ten times in a row', async () => {
    const { context, first, second, problems } = await openTwoTabRun();
    let secondary = second;
    const names: string[] = [];
    for (let cycle = 0; cycle < 10; cycle++) {
      await secondary.close({ runBeforeUnload: false });
      await expectProtected(first, false, 30_000);
      await expect.poll(() => first.isEnabled('[data-action="reprotect-in-tab"]'), { timeout: 30_000 }).toBe(true);
      secondary = await openedBy(context, first, 'reprotect-in-tab', problems);
      await expectProtected(first);
      const name = (await tabRuns(secondary)) ?? '';
      expect(name).toMatch(/^PC [D-Z]$/);
      names.push(name);
    }
    expect(new Set(names).size).toBe(10);
    await expectTabRuns(first, 'PC A');
    await expectServesWithNothingLost(first);
    expect(problems).toEqual([]);
    await context.close();
  }, 300_000);

  it('reloading the secondary’s tab, then the primary’s, while protected: the reloaded tab runs the next secondary', async () => {
    const { context, first, second, problems } = await openTwoTabRun();
    await second.reload();
    // The reloaded tab runs no PC: the spare the host starts for the next pair goes there.
    await expectTabRuns(second, 'PC D');
    await second.click('[data-action="reprotect"]');
    await expectProtected(second);
    await first.reload();
    // PC A ended with its page: PC D takes over in the second tab, and the reloaded first tab runs the next spare.
    await expectTabRuns(first, 'PC E');
    await first.click('[data-action="reprotect"]');
    await expectProtected(first);
    expect(await first.getAttribute('body', 'data-serving')).toBe('primary');
    await expect.poll(() => first.textContent('[data-status]')).toMatch(/^Protected: PC E holds checkpoint/);
    await expectServesWithNothingLost(second);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('fencing a PC in another tab: the host has that tab end its worker', async () => {
    const { context, first, second, problems } = await openTwoTabRun();
    const pcWorkers = first.workers().filter((worker) => worker.url().includes('worker.browser'));
    expect(pcWorkers.length).toBe(1);
    const pcA = pcWorkers[0];
    const ended = new Promise((resolve) => pcA?.once('close', resolve));
    // Frozen from the second tab: PC A hangs in the first, and the host fences it there.
    await second.click('[data-action="freeze-primary"]');
    await second.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect.poll(() => second.getAttribute('[data-side="primary"]', 'data-role'), { timeout: 30_000 }).toBe('fenced');
    await ended;
    // The first tab now runs no PC of the pair: the spare for the next one starts there.
    await expectTabRuns(first, 'PC D');
    await expectServesWithNothingLost(second);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a browser without SharedWorker runs both PCs in one tab, and says why', async () => {
    const context = await rig.browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(() => Reflect.deleteProperty(window, 'SharedWorker'));
    const page = await context.newPage();
    await page.goto(new URL('/?tabs', rig.baseUrl).href);
    await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    expect(await page.textContent('[data-tab-runs]')).toBe(
      'This browser has no SharedWorker, which a host shared by two tabs needs: both PCs run in this tab.',
    );
    await context.close();
  });

  it('closing every tab ends the run: the next one starts afresh', async () => {
    const { context, first, second } = await openTwoTabRun();
    await first.close({ runBeforeUnload: false });
    await second.close({ runBeforeUnload: false });
    const again = await context.newPage();
    await again.goto(new URL('/?tabs', rig.baseUrl).href);
    await again.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    await expectTabRuns(again, 'PC A,PC B');
    await context.close();
  });
});
