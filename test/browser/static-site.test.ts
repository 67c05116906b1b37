// `vite build` output served by a plain static file server works as the demo.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveStatic } from '../support/static-server.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, watchProblems } from './chromium.ts';

const outDir = mkdtempSync(join(tmpdir(), 'colo-dist-'));
let browser: Browser;
let site: { url: string; close(): Promise<void> };

beforeAll(async () => {
  await build({ configFile: join(import.meta.dirname, '..', '..', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
  site = await serveStatic(outDir);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  rmSync(outDir, { recursive: true, force: true });
});

it('the built site, from a plain static server, reaches protection and answers the client', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = watchProblems(page);
  await page.goto(site.url);
  await page.waitForSelector('body[data-protected="true"], body[data-state="failed"]', { timeout: 60_000 });
  expect(await page.textContent('[data-status]')).toMatch(/^Protected/);
  await expect.poll(() => page.locator('.requests li[data-state="released"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
  expect(problems).toEqual([]);
  await page.close();
});
