// `npm run bench:demo`: time from opening the demo page to "protected" (the
// secondary holds a complete checkpoint), then, on the same page, from a click
// on "Re-protect" after killing the primary to protected again; built site
// from a plain static server, headless Chromium, 5 fresh page opens.
// --out FILE (default bench-results/demo.json) gets { protected_ms, reprotect_ms } (quartiles).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import { formatSummary, quartiles, summarize } from '../engine/shared/statistics.ts';

const ROOT = join(import.meta.dirname, '..');
const OPENS = 5;

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex === -1 ? join(ROOT, 'bench-results', 'demo.json') : (process.argv[outIndex + 1] ?? '');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const site = await serveStatic(join(ROOT, 'dist'));
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const protectedMs: number[] = [];
  const reprotectMs: number[] = [];
  try {
    for (let i = 0; i < OPENS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(site.url);
      await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
      protectedMs.push(Number(await page.getAttribute('body', 'data-protected-ms')));
      await page.click('[data-action="kill-primary"]');
      await page.waitForSelector('body[data-serving="secondary"] [data-action="reprotect"]:not([disabled])', { timeout: 60_000 });
      const clickedAt = await page.evaluate(() => {
        const at = performance.now();
        document.querySelector<HTMLButtonElement>('[data-action="reprotect"]')?.click();
        return at;
      });
      await page.waitForSelector('body[data-protected="true"][data-serving="primary"][data-protected-at]', { timeout: 60_000 });
      reprotectMs.push(Number(await page.getAttribute('body', 'data-protected-at')) - clickedAt);
      console.log(`open ${i + 1}/${OPENS}: protected after ${protectedMs.at(-1)} ms; re-protected ${reprotectMs.at(-1)?.toFixed(0)} ms after the click`);
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
  };
  console.log(`page open → protected: ${formatSummary(summarize(protectedMs), 'ms')}`);
  console.log(`re-protect click → protected: ${formatSummary(summarize(reprotectMs), 'ms')}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

await main();
