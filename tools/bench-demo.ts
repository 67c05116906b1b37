// `npm run bench:demo`: time from opening the demo page to "protected" (the
// secondary holds a complete checkpoint), then, on the same page, from a click
// on "Start a new secondary" after killing the primary to protected again:
// once with the spare PC (started in standby at the failover) ready, as for a
// person who reads the page first, and once clicking the moment the button
// enables; and the failover → spare ready time. Built site from a plain static
// server, headless Chromium, 5 fresh page opens.
// --out FILE (default bench-results/demo.json) gets { protected_ms, reprotect_ms,
// reprotect_at_once_ms, spare_ready_ms } (quartiles).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import { formatSummary, quartiles, summarize } from '../engine/shared/statistics.ts';
import { option } from './cli.ts';

const ROOT = join(import.meta.dirname, '..');
const OPENS = 5;

/** Clicks a control from inside the page, returning the page's time of the click. */
function clickNow(page: Page, action: string): Promise<number> {
  return page.evaluate((name) => {
    const at = performance.now();
    document.querySelector<HTMLButtonElement>(`[data-action="${name}"]`)?.click();
    return at;
  }, action);
}

/** Clicks "Start a new secondary" and waits until the page says protected again: click → protected, in ms. */
async function reprotect(page: Page): Promise<number> {
  const clickedAt = await clickNow(page, 'reprotect');
  await page.waitForFunction((at) => document.body.dataset.protected === 'true' && Number(document.body.dataset.protectedAt) > at, clickedAt, { timeout: 60_000 });
  return Number(await page.getAttribute('body', 'data-protected-at')) - clickedAt;
}

async function main(): Promise<void> {
  const out = option('--out') ?? join(ROOT, 'bench-results', 'demo.json');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const site = await serveStatic(join(ROOT, 'dist'));
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const protectedMs: number[] = [];
  const reprotectMs: number[] = [];
  const reprotectAtOnceMs: number[] = [];
  const spareReadyMs: number[] = [];
  try {
    for (let i = 0; i < OPENS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(site.url);
      await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
      protectedMs.push(Number(await page.getAttribute('body', 'data-protected-ms')));
      // Kill → the spare is ready → click.
      const killedAt = await clickNow(page, 'kill-primary');
      await page.waitForSelector('body[data-serving="secondary"][data-spare="ready"] [data-action="reprotect"]:not([disabled])', { timeout: 60_000 });
      spareReadyMs.push((await page.evaluate(() => performance.now())) - killedAt);
      reprotectMs.push(await reprotect(page));
      // Kill again → click the moment the button enables (the spare still starting).
      await clickNow(page, 'kill-primary');
      await page.waitForSelector('body[data-serving="secondary"] [data-action="reprotect"]:not([disabled])', { timeout: 60_000 });
      reprotectAtOnceMs.push(await reprotect(page));
      console.log(
        `open ${i + 1}/${OPENS}: protected after ${protectedMs.at(-1)} ms; spare ready ${spareReadyMs.at(-1)?.toFixed(0)} ms after the kill; ` +
          `re-protected ${reprotectMs.at(-1)?.toFixed(0)} ms after the click (spare ready), ${reprotectAtOnceMs.at(-1)?.toFixed(0)} ms (clicked at once)`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
    await site.close();
  }
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    protected_ms: quartiles(protectedMs),
    reprotect_ms: quartiles(reprotectMs),
    reprotect_at_once_ms: quartiles(reprotectAtOnceMs),
    spare_ready_ms: quartiles(spareReadyMs),
  };
  console.log(`page open → protected: ${formatSummary(summarize(protectedMs), 'ms')}`);
  console.log(`failover → spare ready: ${formatSummary(summarize(spareReadyMs), 'ms')}`);
  console.log(`re-protect click (spare ready) → protected: ${formatSummary(summarize(reprotectMs), 'ms')}`);
  console.log(`re-protect click at once → protected: ${formatSummary(summarize(reprotectAtOnceMs), 'ms')}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

await main();
