// The demo page used as a newcomer would: open it, wait for protection, watch
// the client, kill the primary, step through a checkpoint, break consistency
// on purpose in unsafe mode. Screenshots of each state go to test-results/.
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

let rig: BrowserRig;
beforeAll(async () => {
  // The page as `npm start` serves it.
  rig = await startBrowserRig('build');
});
afterAll(async () => {
  await rig?.close();
});

async function openDemo(width = 1280, height = 800, path = '/'): Promise<{ page: Page; problems: string[] }> {
  const { page, problems } = await rig.open(path, { width, height });
  await page.waitForSelector('body[data-protected="true"], body[data-state="failed"]', { timeout: 60_000 });
  expect(await page.getAttribute('body', 'data-state')).not.toBe('failed');
  return { page, problems };
}

const releasedCount = (page: Page) => page.locator('.requests li[data-state="released"]').count();

/** The client's own counts as the page prints them ("N sent, N answered, N retried …"); the request list keeps only its last rows. */
async function clientCounts(page: Page): Promise<{ sent: number; answered: number; retried: number }> {
  const text = (await page.textContent('.counts')) ?? '';
  const match = /^(\d+) sent, (\d+) answered, (\d+) retried/.exec(text);
  if (!match) throw new Error(`client counts: unexpected "${text}"`);
  return { sent: Number(match[1]), answered: Number(match[2]), retried: Number(match[3]) };
}
const answeredCount = async (page: Page) => (await clientCounts(page)).answered;

/** Every kind of mark on the timeline has an entry in its legend. */
async function expectLegendCoversTimeline(page: Page): Promise<void> {
  const drawn = await page.evaluate(() => [...new Set([...document.querySelectorAll('.timeline g[data-kind]')].map((g) => g.getAttribute('data-kind')))]);
  const explained = await page.evaluate(() => [...document.querySelectorAll('[data-legend-kind]')].map((li) => li.getAttribute('data-legend-kind')));
  expect(drawn.length).toBeGreaterThan(0);
  expect(drawn.filter((kind) => !explained.includes(kind))).toEqual([]);
}

describe('the demo page', () => {
  it('protects the client: kill the primary and the secondary carries on with nothing lost', async () => {
    const { page, problems } = await openDemo();
    await expect
      .poll(() => page.textContent('[data-status]'))
      .toMatch(/^Protected: PC B holds checkpoint #\d+\.( PC C waits in standby to replace whichever PC fails\.)?$/);
    // The header says what PC B's panel says, at every refresh, not one checkpoint later
    // (checkpoints every 25 ms, so the primary often has yet to hear vmstate-loaded).
    await page.selectOption('[data-control="period"]', '25');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      const status = document.querySelector('[data-status]') as Element;
      new MutationObserver(() => {
        const header = /#(\d+)/.exec(status.textContent ?? '')?.[1];
        const panel = document.querySelector('.vm-panel[data-side="secondary"] [data-checkpoint]')?.textContent?.replace('#', '');
        seen.push(`${header}/${panel}`);
      }).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await expect.poll(() => page.evaluate(() => (window as unknown as { seen: string[] }).seen.length), { timeout: 30_000 }).toBeGreaterThanOrEqual(20);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(
      seen.filter((pair) => pair.split('/')[0] !== pair.split('/')[1]),
      seen.join(', '),
    ).toEqual([]);
    await page.selectOption('[data-control="period"]', '1000');
    // Both PCs were built from the same booted snapshot: checkpoint 1 carried only what PC A changed since.
    await expect
      .poll(() => page.textContent('[data-metric="initial-sync"]'))
      .toMatch(/^against the booted snapshot both PCs were built from: checkpoint #1 moved \d+\.\d (kB|MB) \(\d+ RAM pages/);
    await expect.poll(() => releasedCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    // A checkpoint's steps in the order the tour teaches: PC B says it received the state, then loads it, then says so.
    // Read whole: a checkpoint still under way has yet to show its last steps.
    let steps: string[] = [];
    const ladderComplete = async () => {
      steps = await page.locator('.ladder li').allTextContents();
      return ['PC A resumed after a pause of', 'PC B → PC A  vmstate-loaded'].every((text) => steps.some((step) => step.includes(text)));
    };
    await expect.poll(ladderComplete, { timeout: 30_000 }).toBe(true);
    const at = (text: string) => steps.findIndex((step) => step.includes(text));
    expect(at('PC B → PC A  vmstate-received'), steps.join(' | ')).toBeGreaterThan(-1);
    expect(at('PC B → PC A  vmstate-received'), steps.join(' | ')).toBeLessThan(at('loaded the state'));
    expect(at('loaded the state'), steps.join(' | ')).toBeLessThan(at('PC B → PC A  vmstate-loaded'));
    await expect
      .poll(() => page.textContent('[data-metric="detection"]'))
      .toMatch(
        /^A heartbeat every 20 ms each way; .*Longest silence heard: PC A \d+ ms, PC B \d+ ms\. Suspicions dismissed \(.*\): \d+\. False alarms \(.*\): 0\.$/,
      );
    expect(await page.textContent('.vm-panel[data-side="primary"] [data-role]')).toBe('primary');
    expect(await page.textContent('.vm-panel[data-side="secondary"] [data-role]')).toBe('secondary');
    expect(await page.textContent('.vm-panel[data-side="primary"] [data-checkpoint-label]')).toBe('checkpoint taken');
    expect(await page.textContent('.vm-panel[data-side="secondary"] [data-checkpoint-label]')).toBe('checkpoint held');
    // The primary's console is a real, interactive shell, with its prompt up.
    await page.waitForSelector('body[data-interactive-ms]', { timeout: 30_000 });
    expect(await page.textContent('.vm-panel[data-side="primary"] .xterm-rows')).toContain('colo:/#');
    await page.locator('.vm-panel[data-side="primary"] .xterm-helper-textarea').focus();
    await page.keyboard.type('echo typed $((20 + 22))\n');
    await expect.poll(() => page.textContent('.vm-panel[data-side="primary"] .xterm-rows'), { timeout: 20_000 }).toContain('typed 42');
    await page.screenshot({ path: 'test-results/demo-protected.png', fullPage: true });

    const before = await answeredCount(page);
    await page.locator('[data-action="kill-primary"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect.poll(() => page.textContent('.vm-panel[data-side="primary"] [data-role]')).toBe('dead');
    // Of a dead PC only the last checkpoint the host heard of is known: the panel says so.
    expect(await page.textContent('.vm-panel[data-side="primary"] [data-checkpoint-label]')).toBe('last heard at');
    await expect.poll(() => page.textContent('.vm-panel[data-side="secondary"] [data-role]')).toBe('unprotected');
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 3);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    expect(await page.textContent('[data-status]')).toMatch(/^Failed over: PC B serves the client from checkpoint #\d+/);
    // A kill while the primary captures is detected only after the peer's allowance for that step (PEER_BUSY_MS, 1 s).
    await expect
      .poll(() => page.textContent('[data-metric="failover"]'))
      .toMatch(/after kill-primary: detection (\d+ ms|1\.\d+ s), then first reply from the new primary/);
    // The shell the learner typed in goes on on PC B: what they saw on PC A, marked, then a live prompt.
    const survivorConsole = '.vm-panel[data-side="secondary"] .xterm-rows';
    await expect.poll(() => page.textContent(survivorConsole)).toContain('typed 42');
    expect(await page.textContent(survivorConsole)).toMatch(/PC A failed; PC B goes on from checkpoint #\d+/);
    await page.locator('.vm-panel[data-side="secondary"] .xterm-helper-textarea').focus();
    await page.keyboard.type('echo after $((50 + 5))\n');
    await expect.poll(() => page.textContent(survivorConsole), { timeout: 20_000 }).toContain('after 55');
    // Its VGA screen is PC B's own, live.
    await page.locator('.vm-panel[data-side="secondary"] [role="tab"]', { hasText: 'VGA screen' }).click();
    await expect.poll(() => page.textContent('.vm-panel[data-side="secondary"] .screen')).toMatch(/\S/);
    // A third PC starts in standby at once, so a re-protection need not wait for one to boot.
    await expect
      .poll(() => page.textContent('[data-status]'), { timeout: 30_000 })
      .toMatch(/alone \(unprotected\)\. PC C waits in standby to become the next secondary\.$/);
    // The survivor's ledger, asked again for everything the client saw, holds all of it.
    await page.click('[data-action="audit"]');
    await page.waitForSelector('[data-audit="ok"], [data-audit="failed"]', { timeout: 60_000 });
    expect(await page.textContent('[data-audit]')).toMatch(/^Audit of PC B: its stored replies and its total match all \d+ replies the client saw\.$/);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await expectLegendCoversTimeline(page);
    await page.screenshot({ path: 'test-results/demo-failover.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('block replication: disk pages ride in the checkpoints, a failover keeps the journal, and the new primary reboots back to the same total', async () => {
    const { page, problems } = await openDemo();
    await expect.poll(() => releasedCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    // Each reply's journal record is a disk page the next checkpoint carries, counted in the measurements and the ladder.
    await expect
      .poll(() => page.textContent('[data-metric="disk"]'), { timeout: 30_000 })
      .toMatch(/Over the last \d+ checkpoints: [1-9]\d* carried disk pages/);
    await expect.poll(() => page.textContent('.ladder'), { timeout: 30_000 }).toMatch(/disk pages? the guest wrote among it/);
    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    const answered = await answeredCount(page);
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(answered + 2);
    // Quiet, so the last released reply's total is the ledger's.
    await page.uncheck('#auto-traffic');
    await expect.poll(() => page.locator('.requests li:not([data-state="released"])').count(), { timeout: 30_000 }).toBe(0);
    // Newest first.
    const lastReply = (await page.locator('.requests li[data-state="released"] .reply').first().textContent()) ?? '';
    const total = / ok (-?\d+)/.exec(lastReply)?.[1];
    expect(total, lastReply).toBeDefined();
    await page.click('[data-action="reboot-guest"]');
    await page.waitForSelector('[data-reboot="done"], [data-reboot="failed"]', { timeout: 240_000 });
    expect(await page.textContent('[data-reboot]')).toMatch(
      new RegExp(`^PC B rebooted in [\\d.]+ (ms|s): “ledger: ready \\(\\d+ replies from the journal, total ${total}\\)”$`),
    );
    // The kernel booted again on PC B's console (the terminal draws it a frame or more after the transcript has it).
    await expect
      .poll(() => page.textContent('.vm-panel[data-side="secondary"] .xterm-rows'), { timeout: 10_000 })
      .toMatch(/ledger: ready \(\d+ replies from the journal/);
    await page.click('[data-action="client-get"]');
    await expect
      .poll(() => page.locator('.requests li[data-state="released"] .reply').first().textContent(), { timeout: 60_000 })
      .toMatch(new RegExp(` ok ${total}$`));
    await page.click('[data-action="audit"]');
    await page.waitForSelector('[data-audit="ok"], [data-audit="failed"]', { timeout: 60_000 });
    expect(await page.textContent('[data-audit]')).toMatch(/^Audit of PC B: its stored replies and its total match all \d+ replies the client saw\.$/);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await page.screenshot({ path: 'test-results/demo-reboot.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('after a failover, a new secondary re-protects the survivor', async () => {
    const { page, problems } = await openDemo();
    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    // Clicked at once: the spare is still starting, and becomes the secondary when it is ready.
    expect(await page.textContent('[data-status]')).toMatch(/PC C (is starting|waits) in standby/);
    // Every instructions/s figure the panels show from here on.
    await page.evaluate(() => {
      const rates: string[] = [];
      (window as unknown as { rates: string[] }).rates = rates;
      const observer = new MutationObserver(() => {
        for (const span of document.querySelectorAll('[data-ips]')) rates.push(span.textContent ?? '');
      });
      for (const span of document.querySelectorAll('[data-ips]')) observer.observe(span, { childList: true, characterData: true, subtree: true });
    });
    await page.click('[data-action="reprotect"]');
    await page.waitForSelector('body[data-protected="true"][data-serving="primary"]', { timeout: 60_000 });
    await expect.poll(() => page.textContent('.vm-panel[data-side="primary"] h2')).toBe('PC B');
    await expect.poll(() => page.textContent('.vm-panel[data-side="secondary"] h2')).toBe('PC C');
    expect(await page.textContent('[data-status]')).toMatch(
      /^Protected: PC C holds checkpoint #\d+\.( PC D waits in standby to replace whichever PC fails\.)?$/,
    );
    // PC B's console, now in the primary's panel, still goes on from PC A's.
    expect(await page.textContent('.vm-panel[data-side="primary"] .xterm-rows')).toMatch(/PC A failed; PC B goes on from checkpoint #\d+/);
    // A new PC's instruction count is its own: never compared with the old PC's into a negative speed.
    await expect.poll(() => page.evaluate(() => (window as unknown as { rates: string[] }).rates.length), { timeout: 30_000 }).toBeGreaterThanOrEqual(6);
    const rates = await page.evaluate(() => (window as unknown as { rates: string[] }).rates);
    expect(
      rates.filter((r) => r.startsWith('-')),
      rates.join(', '),
    ).toEqual([]);
    // PC B, the survivor, kept no copy of the snapshot PC C was built from (it was a secondary): checkpoint 1 is
    // what differs from the copy it makes again, or, with the spare that waited paired before the copy was made,
    // all of PC B's RAM (test/node/colo.test.ts checks each way); the page says which.
    await expect
      .poll(() => page.textContent('[data-metric="initial-sync"]'))
      .toMatch(
        /^(against the booted snapshot both PCs were built from: checkpoint #1 moved|checkpoint #1 moved [\d.]+ MB: a full copy: this primary no longer holds the booted snapshot)/,
      );
    const before = await answeredCount(page);
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 2);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await page.screenshot({ path: 'test-results/demo-reprotected.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the checkpoint mode switch shows changed pages against the whole state, and replies keep flowing', async () => {
    const { page, problems } = await openDemo();
    await page.selectOption('[data-control="period"]', '250');
    await expect.poll(() => page.textContent('[data-metric="bytes"]'), { timeout: 20_000 }).toMatch(/RAM pages and \d+ device pages changed/);
    // A fresh clone runs the write-tracking v86 build: only the pages the guest wrote are compared.
    await expect.poll(() => page.textContent('[data-metric="tracking"]')).toMatch(/^write tracking: v86 marks each page the guest writes.*, in \d+\.\d\d ms/);
    await page.selectOption('[data-control="mode"]', 'naive');
    expect(await page.textContent('[data-mode-help]')).toMatch(/whole machine/);
    await expect.poll(() => page.textContent('[data-metric="bytes"]'), { timeout: 20_000 }).toMatch(/^last \d+(\.\d+)? MB \(the whole state/);
    const lastReleased = () => page.locator('.requests li[data-state="released"]').last().textContent();
    const released = await lastReleased();
    await page.selectOption('[data-control="mode"]', 'speculative');
    await expect.poll(() => page.textContent('[data-metric="bytes"]'), { timeout: 20_000 }).toMatch(/RAM pages and \d+ device pages changed/);
    await expect.poll(lastReleased, { timeout: 30_000 }).not.toBe(released);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    // Each mode its own median, not one figure mixing them; the naive states stand off the bytes chart's scale.
    await expect.poll(() => page.getAttribute('[data-metric="pause"]', 'data-modes'), { timeout: 20_000 }).toBe('strict speculative naive');
    expect(await page.textContent('[data-metric="pause"]')).toMatch(
      // A pause of a second or more reads in seconds ("naive 1.04 s" on a loaded machine).
      /median by mode over the last \d+: strict (\d+ ms|\d+\.\d+ s) \(n=\d+\), speculative (\d+ ms|\d+\.\d+ s) \(n=\d+\), naive (\d+ ms|\d+\.\d+ s) \(n=\d+\)$/,
    );
    await expect.poll(() => page.locator('.chart-bytes[data-outlier]').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    // And the three side by side, measured in this page: naive moves megabytes, the other two kilobytes.
    expect(await page.locator('[data-metric="modes"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-mode')))).toEqual([
      'strict',
      'speculative',
      'naive',
    ]);
    expect(await page.textContent('[data-metric="modes"] tr[data-mode="naive"] td:last-child')).toMatch(/ MB$/);
    expect(await page.textContent('[data-metric="modes"] tr[data-mode="strict"] td:last-child')).toMatch(/ kB$/);
    await page.screenshot({ path: 'test-results/demo-modes.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('compare mode: matching replies leave without a checkpoint, a random number forces one, named on the timeline', async () => {
    const { page, problems } = await openDemo();
    await page.selectOption('[data-control="period"]', '20000');
    await page.selectOption('[data-control="policy"]', 'compare');
    await page.uncheck('#auto-traffic');
    await expect
      .poll(() => page.textContent('.vm-panel[data-side="secondary"] [data-role-detail]'), { timeout: 20_000 })
      .toMatch(/answering every request too/);
    // One request at a time: the automatic one sent before compare mode was on must be answered first.
    const settled = async () => /^(\d+) sent, \1 answered/.test((await page.textContent('.counts')) ?? '');
    await expect.poll(settled, { timeout: 20_000 }).toBe(true);
    await page.click('[data-action="client-add"]');
    await page.waitForSelector('.requests li[data-compare="match"][data-state="released"]', { timeout: 20_000 });
    expect(await page.locator('.requests li[data-compare="match"] .compare').first().textContent()).toMatch(/both PCs wrote this reply/);
    await expect.poll(settled, { timeout: 20_000 }).toBe(true);
    await page.click('[data-action="client-rand"]');
    await page.waitForSelector('.requests li[data-compare="mismatch"][data-state="released"]', { timeout: 20_000 });
    await page.waitForSelector('.timeline [data-cause="mismatch"]', { timeout: 10_000 });
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await page.screenshot({ path: 'test-results/demo-compare.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('step mode lets one handshake message through per click', async () => {
    const { page, problems } = await openDemo();
    const ladder = page.locator('.ladder');
    await page.click('[data-action="step-mode"]');
    // The next checkpoint stops at the gate before its first message.
    await expect.poll(() => ladder.getAttribute('data-waiting'), { timeout: 30_000 }).toBe('checkpoint-request');
    const checkpoint = await ladder.getAttribute('data-checkpoint');
    expect(await ladder.getAttribute('data-messages')).toBe('0');
    const order = ['checkpoint-request', 'checkpoint-reply', 'vmstate-send', 'vmstate-size', 'vmstate-received', 'vmstate-loaded'];
    for (let i = 0; i < order.length; i++) {
      await expect.poll(() => ladder.getAttribute('data-waiting'), { timeout: 30_000 }).toBe(order[i]);
      await page.click('[data-action="step"]');
      await expect.poll(() => ladder.getAttribute('data-messages'), { timeout: 30_000 }).toBe(String(i + 1));
      expect(await ladder.getAttribute('data-checkpoint')).toBe(checkpoint);
      if (i === 2) await page.screenshot({ path: 'test-results/demo-step-mode.png', fullPage: true });
    }
    await expect.poll(() => page.textContent('.ladder')).toContain('PC A resumed after a pause of');
    await expect.poll(() => ladder.getAttribute('data-waiting'), { timeout: 30_000 }).toBe('checkpoint-request');
    expect(Number(await ladder.getAttribute('data-checkpoint'))).toBe(Number(checkpoint) + 1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the timeline keeps its labels apart and inside at 8, 20 and 60 s, and a click or Enter shows the mark it was on', async () => {
    const { page, problems } = await openDemo();
    // Checkpoints every 25 ms crowd the timeline with messages.
    await page.selectOption('[data-control="period"]', '25');
    await expect.poll(() => page.locator('.timeline [data-style="checkpoint-request"]').count(), { timeout: 30_000 }).toBeGreaterThan(40);
    const pause = page.locator('[data-action="timeline-pause"]');
    for (const windowMs of ['8000', '20000', '60000']) {
      await page.selectOption('[data-control="timeline-window"]', windowMs);
      await pause.click();
      const { drawing, labels } = await page.evaluate(() => {
        const box = (e: Element) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
        };
        const shown = [...document.querySelectorAll<SVGTextElement>('.timeline [data-label]')].filter((t) => t.style.display !== 'none');
        return { drawing: box(document.querySelector('.timeline') as Element), labels: shown.map((t) => ({ text: t.textContent, ...box(t) })) };
      });
      expect(labels.length, `labels at ${windowMs} ms`).toBeGreaterThan(3);
      // Heartbeats drawn on both lanes (one every 20 ms each way: a second of them at least).
      for (const side of ['primary', 'secondary']) {
        const ticks = ((await page.getAttribute(`.timeline [data-heartbeats="${side}"]`, 'd')) ?? '').split('M').length - 1;
        expect(ticks, `${side} heartbeats at ${windowMs} ms`).toBeGreaterThan(50);
      }
      for (const label of labels) {
        expect(label.left, `${label.text} inside at ${windowMs} ms`).toBeGreaterThanOrEqual(drawing.left);
        expect(label.right, `${label.text} inside at ${windowMs} ms`).toBeLessThanOrEqual(drawing.right);
      }
      const overlapping = labels.flatMap((a, i) =>
        labels
          .slice(i + 1)
          .filter((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
          .map((b) => `${a.text} / ${b.text}`),
      );
      expect(overlapping, `at ${windowMs} ms`).toEqual([]);
      if (windowMs === '60000') await page.screenshot({ path: 'test-results/demo-timeline-60s.png', fullPage: true });
      await pause.click();
    }
    // Paused, the marks stay put: click one label, then Enter on another mark.
    await page.selectOption('[data-control="timeline-window"]', '4000');
    await pause.click();
    // One element, not a locator that finds the first label again at the click. Reports of
    // moments before the pause still arrive (up to a second late) and may draw labels anew,
    // replacing the one read: then it is read and clicked again.
    let requestLabel = '';
    const clickedOne = async () => {
      const request = await page.locator('.timeline text[data-label][data-style="checkpoint-request"]:visible').first().elementHandle();
      requestLabel = (await request?.textContent()) ?? '';
      return (
        (await request?.click({ timeout: 2000 }).then(
          () => true,
          () => false,
        )) ?? false
      );
    };
    await expect.poll(clickedOne, { timeout: 20_000, message: 'a checkpoint-request label in the paused view, clicked' }).toBe(true);
    const number = /#(\d+)/.exec(requestLabel)?.[1];
    await expect.poll(() => page.textContent('.details p')).toMatch(new RegExp(`^checkpoint-request for checkpoint #${number} from the primary`));
    const reply = page.locator('.timeline g[data-style="checkpoint-reply"]').last();
    await reply.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('.details p')).toMatch(/^checkpoint-reply for checkpoint #\d+ from the secondary/);
    const bar = page.locator('.timeline [data-kind="pause"]').last();
    await bar.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('.details p')).toMatch(/^Primary paused for checkpoint #\d+/);
    expect(await page.textContent('.details pre')).not.toContain('[object Object]');
    // A long field wraps inside the panel: the page never grows wider than the window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.click('.timeline-legend summary');
    await expectLegendCoversTimeline(page);
    await page.screenshot({ path: 'test-results/demo-timeline-selected.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('goes back in time: the scrubber and the checkpoint buttons show any kept checkpoint, and the last failover, while the PCs run on', async () => {
    const { page, problems } = await openDemo();
    const ladder = page.locator('.ladder');
    const shown = async () => Number(await ladder.getAttribute('data-checkpoint'));
    await page.selectOption('[data-control="period"]', '25');
    await expect.poll(shown, { timeout: 30_000 }).toBeGreaterThan(60);
    await page.click('[data-action="previous-checkpoint"]');
    // The frame that marks the view stopped draws the ladder for that moment too.
    await expect.poll(() => page.getAttribute('.timeline-panel', 'data-stopped')).toBe('true');
    const stoppedAt = await shown();
    expect(await page.textContent('[data-moment]')).toMatch(/ ago$/);
    for (let i = 0; i < 3; i++) await page.click('[data-action="previous-checkpoint"]');
    await expect.poll(shown).toBe(stoppedAt - 3);
    await page.click('[data-action="next-checkpoint"]');
    await expect.poll(shown).toBe(stoppedAt - 2);
    // Each stop shows that checkpoint whole: its request, its pause, the primary going on.
    await expect.poll(() => ladder.textContent()).toMatch(new RegExp(`PC A → PC B  checkpoint-request.*PC A resumed after a pause of`));
    expect(await page.textContent('.ladder-box h3')).toBe(`Checkpoint #${stoppedAt - 2}, step by step`);
    // The PCs ran on meanwhile.
    const holds = async () => Number(/^Protected: PC B holds checkpoint #(\d+)/.exec((await page.textContent('[data-status]')) ?? '')?.[1]);
    await expect.poll(holds).toBeGreaterThan(stoppedAt + 1);
    // The scrubber's far left is the oldest kept moment: the first checkpoints.
    await page.locator('[data-control="scrub"]').fill(String(await page.getAttribute('[data-control="scrub"]', 'min')));
    await expect.poll(() => page.textContent('.ladder-box h3')).toBe('No checkpoint had begun by this moment');
    await page.click('[data-action="next-checkpoint"]');
    await expect.poll(shown).toBe(1);
    await page.click('[data-action="timeline-pause"]');
    await expect.poll(() => page.textContent('[data-moment]')).toBe('live');

    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await page.selectOption('[data-control="timeline-window"]', '4000');
    await page.click('[data-action="last-failover"]');
    await expect.poll(() => page.textContent('.details p')).toMatch(/^The secondary took over, resuming from checkpoint #\d+/);
    await expect(page.locator('.timeline g[data-kind="takeover"].selected').count()).resolves.toBe(1);
    // The ladder reaches the checkpoint PC B resumed from, even when PC A died before the host heard its last reports.
    const from = Number(/#(\d+)/.exec((await page.textContent('.details p')) ?? '')?.[1]);
    // Once the reports of that moment have arrived (a worker's batch can come a second late,
    // more on a loaded machine: the poll's default second failed 1 run in 3 here, also before issue 16).
    await expect.poll(shown, { timeout: 10_000 }).toBeGreaterThanOrEqual(from);
    await page.screenshot({ path: 'test-results/demo-back-in-time.png', fullPage: true });

    // Saved, and opened without PCs: the same run, scrubbed the same way.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action="save-run"]')]);
    const saved = 'test-results/saved-run.json';
    await download.saveAs(saved);
    const { page: replay, problems: replayProblems } = await rig.open('/?replay');
    await replay.locator('[data-control="run-file"]').setInputFiles(saved);
    await replay.waitForSelector('body[data-replay]');
    expect(await replay.textContent('[data-status]')).toMatch(/^Replay of saved-run\.json, saved .* UTC: .* of the run, \d{2,} checkpoints, 1 failover\. /);
    expect(await replay.locator('.vm-panel').count()).toBe(0);
    await replay.click('[data-action="last-failover"]');
    await expect.poll(() => replay.textContent('.details p')).toMatch(/^The secondary took over, resuming from checkpoint #\d+/);
    await replay.selectOption('[data-control="timeline-window"]', '4000');
    await replay.locator('[data-control="scrub"]').fill(String(await replay.getAttribute('[data-control="scrub"]', 'min')));
    await expect.poll(() => replay.textContent('.ladder-box h3')).toBe('No checkpoint had begun by this moment');
    for (let i = 0; i < 30; i++) await replay.click('[data-action="next-checkpoint"]');
    const request = replay.locator('.timeline text[data-label][data-style="checkpoint-request"]:visible').last();
    const number = /#(\d+)/.exec((await request.textContent()) ?? '')?.[1];
    await request.click();
    await expect.poll(() => replay.textContent('.details p')).toMatch(new RegExp(`^checkpoint-request for checkpoint #${number} from the primary`));
    await replay.screenshot({ path: 'test-results/demo-replay.png', fullPage: true });
    // A damaged file is refused with why, and the open run stays.
    const text = await readFile(saved, 'utf8');
    await replay
      .locator('[data-control="run-file"]')
      .setInputFiles({ name: 'cut.json', mimeType: 'application/json', buffer: Buffer.from(text.slice(0, text.length / 2)) });
    await expect
      .poll(() => replay.textContent('[data-replay-problem]'))
      .toMatch(/^cut\.json was not opened: not a saved run: it is not JSON, or it was cut short/);
    expect(await replay.textContent('[data-status]')).toMatch(/^Replay of saved-run\.json/);
    expect(replayProblems).toEqual([]);
    expect(problems).toEqual([]);
    await replay.close();
    await page.close();
  });

  it('step mode still gates after a failover and a re-protection', async () => {
    const { page, problems } = await openDemo();
    const ladder = page.locator('.ladder');
    await page.click('[data-action="step-mode"]');
    await expect.poll(() => ladder.getAttribute('data-waiting'), { timeout: 30_000 }).toBe('checkpoint-request');
    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"] [data-action="reprotect"]:not([disabled])', { timeout: 60_000 });
    await page.click('[data-action="reprotect"]');
    // The new pair's handshake waits at the gate too: protected only after stepping through it.
    await page.waitForSelector('body[data-serving="primary"]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-protected')).toBe('false');
    const isProtected = async () => (await page.getAttribute('body', 'data-protected')) === 'true';
    const waiting = async () => (await ladder.getAttribute('data-waiting')) ?? '';
    // Step until the pair is protected and its next checkpoint waits before its first message.
    const where = async () => `${await ladder.getAttribute('data-checkpoint')}:${await ladder.getAttribute('data-messages')}:${await waiting()}`;
    for (let i = 0; i < 40; i++) {
      await expect.poll(waiting, { timeout: 30_000 }).not.toBe('');
      if ((await isProtected()) && (await waiting()) === 'checkpoint-request' && (await ladder.getAttribute('data-messages')) === '0') break;
      // One message per step: wait until the ladder shows it moved before stepping again.
      const before = await where();
      await page.click('[data-action="step"]');
      await expect.poll(where, { timeout: 30_000 }).not.toBe(before);
    }
    expect(await isProtected()).toBe(true);
    expect(await waiting()).toBe('checkpoint-request');
    expect(await ladder.getAttribute('data-messages')).toBe('0');
    expect(await page.textContent('.vm-panel[data-side="secondary"] h2')).toBe('PC C');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a breakpoint before vmstate-received, then a kill: two clicks for the case output commit is about', async () => {
    const { page, problems } = await openDemo();
    await page.selectOption('[data-control="break-before"]', 'vmstate-received');
    await expect
      .poll(() => page.textContent('[data-break-status]'), { timeout: 30_000 })
      .toMatch(/^Stopped before vmstate-received of checkpoint #\d+: kill, freeze or cut now/);
    const held = Number(/#(\d+)/.exec((await page.textContent('[data-break-status]')) ?? '')?.[1]);
    // PC B holds checkpoint N whole but has not said so: PC A releases nothing N covers.
    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect
      .poll(() => page.textContent('[data-status]'), { timeout: 30_000 })
      .toMatch(new RegExp(`^Failed over: PC B serves the client from checkpoint #${held},`));
    const before = await answeredCount(page);
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 2);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await page.screenshot({ path: 'test-results/demo-breakpoint.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a scenario link reproduces its failure, and the page writes the link for its own setup', async () => {
    // Its fault may end protection before a refresh shows it: wait for the first protection's time, not the flag.
    const { page, problems } = await rig.open('/?mode=strict&period=250&break=vmstate-send&fault=kill-primary');
    await page.waitForSelector('body[data-protected-ms]', { timeout: 60_000 });
    expect(await page.inputValue('[data-control="period"]')).toBe('250');
    expect(await page.inputValue('[data-control="break-before"]')).toBe('vmstate-send');
    // Stopped before vmstate-send, the primary is killed: PC B never got that state, so it serves from the one before.
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    const held = await page.evaluate(() => document.querySelector('.ladder')?.getAttribute('data-checkpoint'));
    await expect
      .poll(() => page.textContent('[data-status]'))
      .toMatch(new RegExp(`^Failed over: PC B serves the client from checkpoint #${Number(held) - 1},`));
    const before = await answeredCount(page);
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 2);
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    await page.click('[data-action="copy-link"]');
    const link = new URL(await page.inputValue('[data-scenario-link]'));
    expect(Object.fromEntries(link.searchParams)).toEqual({ mode: 'strict', period: '250', compare: 'off', break: 'vmstate-send', fault: 'kill-primary' });
    expect(problems).toEqual([]);
    await page.close();
    // A link the page cannot fully use says what it did not understand.
    const { page: odd } = await openDemo(1280, 800, '/?mode=fast');
    expect(await odd.textContent('[data-scenario-problems]')).toBe("This link's setup was not all understood: mode=fast: expected naive, strict, speculative.");
    await odd.close();
  });

  it('unsafe mode plus a kill visibly breaks consistency', async () => {
    const { page, problems } = await openDemo();
    await page.selectOption('[data-control="period"]', '20000');
    await page.check('[data-control="unsafe"]');
    // The page says what the primary runs, in the primary's own words (its status), not what was asked.
    await expect
      .poll(() => page.textContent('[data-running]'), { timeout: 10_000 })
      .toBe('PC A runs strict checkpoints every 20.00 s, replies released at once (unsafe).');
    const before = await answeredCount(page);
    await expect.poll(() => answeredCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 4);
    await page.click('[data-action="kill-primary"]');
    await page.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect.poll(() => page.getAttribute('.consistency', 'data-consistency'), { timeout: 30_000 }).not.toBe('0');
    expect(await page.textContent('.violations')).toMatch(/lost: c\d+ ok \d+: total \d+, acknowledged adds sum to \d+/);
    // The badge leads to the reply: kept in the list however many follow, and marked.
    const named = /lost: (c\d+) ok/.exec((await page.textContent('.violations')) ?? '')?.[1];
    const sent = (await clientCounts(page)).sent;
    await expect.poll(async () => (await clientCounts(page)).sent, { timeout: 60_000 }).toBeGreaterThan(sent + 15);
    await page.click('[data-action="show-violation"]');
    await expect.poll(() => page.getAttribute('.requests li[data-revealed]', 'data-id')).toBe(named);
    expect(await page.locator('.requests li[data-revealed]').isVisible()).toBe(true);
    await page.screenshot({ path: 'test-results/demo-unsafe.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('losing both PCs says the service is lost, and why', async () => {
    const { page, problems } = await openDemo();
    await page.click('[data-action="kill-secondary"]');
    await expect.poll(() => page.textContent('[data-status]'), { timeout: 30_000 }).toMatch(/^Unprotected: /);
    await page.click('[data-action="kill-primary"]');
    await expect
      .poll(() => page.textContent('[data-status]'), { timeout: 30_000 })
      .toBe('Service lost: PC A, which served the client, is killed and no PC can take over.');
    expect(await page.getAttribute('body', 'data-state')).toBe('lost');
    expect(await page.textContent('.consistency')).toBe('Replies lost, contradicted or wrong: 0');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('is readable on a narrow window and the guided tour walks through it', async () => {
    const { page, problems } = await openDemo(420, 900);
    await page.click('[data-action="tour"]');
    await expect.poll(() => page.textContent('.tour h2')).toBe('Two real PCs');
    for (let i = 0; i < 3; i++) await page.click('.tour button:has-text("Next")');
    await expect.poll(() => page.textContent('.tour h2')).toBe('One checkpoint, message by message');
    expect(await page.locator('.timeline-panel.tour-target').count()).toBe(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: 'test-results/demo-narrow-tour.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
