// `vite build` output served by a plain static file server works as the demo,
// under the strict Content-Security-Policy its index.html sets.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveStatic } from '../support/static-server.ts';
import { CHROMIUM_ARGS, chromiumPath, watchProblems } from './chromium.ts';

const outDir = mkdtempSync(join(tmpdir(), 'colo-dist-'));
let browser: Browser;
let site: { url: string; close(): Promise<void> };

/** The policy, directive by directive: no inline script or style, nothing from elsewhere. */
const POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'worker-src': ["'self'", 'blob:'],
  'style-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'none'"],
};

function directives(policy: string): Record<string, string[]> {
  const parsed: Record<string, string[]> = {};
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) parsed[name] = sources;
  }
  return parsed;
}

function metaPolicy(html: string): string {
  const policy = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html)?.[1];
  if (policy === undefined) throw new Error('index.html: no Content-Security-Policy meta tag');
  return policy;
}

beforeAll(async () => {
  await build({ configFile: join(import.meta.dirname, '..', '..', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
  site = await serveStatic(outDir);
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  rmSync(outDir, { recursive: true, force: true });
});

async function openProtected(url: string): Promise<{ page: Page; problems: string[]; guestFetches: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = await watchProblems(page);
  // The guest's files, as fetched by the page and both PCs' workers.
  const guestFetches: string[] = [];
  page.on('request', (request) => {
    const name = new URL(request.url()).pathname.split('/').pop() ?? '';
    if (/\.(bin|wasm|wasmgz|v86gz|json)$/.test(name)) guestFetches.push(name);
  });
  await page.goto(url);
  await page.waitForSelector('body[data-protected="true"], body[data-state="failed"]', { timeout: 60_000 });
  expect(await page.textContent('[data-status]')).toMatch(/^Protected/);
  await expect.poll(() => page.locator('.requests li[data-state="released"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
  return { page, problems, guestFetches: [...guestFetches] };
}

it('the built site, from a plain static server, reaches protection and answers the client under its CSP', async () => {
  expect(directives(metaPolicy(readFileSync(join(outDir, 'index.html'), 'utf8')))).toEqual(POLICY);
  const { page, problems, guestFetches } = await openProtected(site.url);
  // Two PCs, one fetch of each file.
  expect(guestFetches.sort()).toEqual(['booted-state.v86gz', 'manifest.json', 'seabios.bin', 'v86-tracking.wasmgz', 'vgabios-stdvga.bin']);
  expect(directives((await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content')) ?? '')).toEqual(POLICY);

  // xterm.js is styled (its theme and colour classes are adopted stylesheets,
  // not <style> elements) and shows colours, a palette one and a 24-bit one
  // (a style attribute set through CSSOM), without a violation.
  const term = '.vm-panel[data-side="primary"]';
  await page.waitForSelector('body[data-interactive-ms]', { timeout: 30_000 });
  expect(await page.locator('style').count()).toBe(0);
  expect(await page.evaluate((selector) => getComputedStyle(document.querySelector(`${selector} .xterm-rows`) as Element).fontFamily, term)).toBe('monospace');
  await page.locator(`${term} .xterm-helper-textarea`).focus();
  await page.keyboard.type(`printf '\\033[31mpalette\\033[0m \\033[38;2;255;100;0mtruecolor\\033[0m\\n'\n`);
  const colourOf = (text: string) =>
    page.evaluate(
      ({ selector, text }) => {
        const span = [...document.querySelectorAll(`${selector} .xterm-rows span`)].find((s) => s.textContent === text);
        return span ? getComputedStyle(span).color : undefined;
      },
      { selector: term, text },
    );
  await expect.poll(() => colourOf('truecolor'), { timeout: 20_000 }).toBe('rgb(255, 100, 0)');
  // xterm's default theme: ANSI red (31) is #cc0000.
  expect(await colourOf('palette')).toBe('rgb(204, 0, 0)');
  await page.screenshot({ path: 'test-results/static-site-csp.png', fullPage: true });
  expect(problems).toEqual([]);

  // The policy is in force, and a violation counts as a problem.
  const refused = await page.evaluate(async () => {
    const seen: string[] = [];
    const allSeen = new Promise<void>((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => {
        seen.push(e.effectiveDirective);
        if (seen.length === 3) resolve();
      });
      // Only a cap: the count is checked below.
      setTimeout(resolve, 10_000);
    });
    const style = document.createElement('style');
    style.textContent = 'body { background: red; }';
    document.head.append(style);
    document.body.setAttribute('style', 'background: red');
    const script = document.createElement('script');
    script.textContent = 'window.inlineScriptRan = true';
    document.head.append(script);
    await allSeen;
    return { seen, scriptRan: 'inlineScriptRan' in window, background: getComputedStyle(document.body).backgroundColor };
  });
  expect(refused.seen.sort()).toEqual(['script-src-elem', 'style-src-attr', 'style-src-elem']);
  expect(refused.scriptRan).toBe(false);
  expect(refused.background).not.toBe('rgb(255, 0, 0)');
  await expect.poll(() => problems.filter((p) => p.startsWith('csp violation: ')).length).toBe(3);
  await page.close();
});

it('the same policy sent as a header on every response, workers included, is enough too', async () => {
  // A <meta> policy governs the page only; a worker takes its policy from its
  // own response, so v86's workers need 'wasm-unsafe-eval' and blob: here.
  const policy = metaPolicy(readFileSync(join(outDir, 'index.html'), 'utf8'));
  const strict = await serveStatic(outDir, { 'content-security-policy': policy });
  try {
    const { page, problems } = await openProtected(strict.url);
    // A saved run opens in the built site's replay page, under the same policy.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action="save-run"]')]);
    const saved = join(outDir, 'run.json');
    await download.saveAs(saved);
    const replay = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const replayProblems = await watchProblems(replay);
    await replay.goto(new URL('?replay', strict.url).href);
    await replay.locator('[data-control="run-file"]').setInputFiles(saved);
    await replay.waitForSelector('body[data-replay]');
    expect(await replay.textContent('[data-status]')).toMatch(/^Replay of run\.json, saved .*: .* of the run, \d+ checkpoints, 0 failovers\./);
    expect(replayProblems).toEqual([]);
    expect(problems).toEqual([]);
    await replay.close();
    await page.close();
  } finally {
    await strict.close();
  }
});

it('a two-tab run from the built site, under the header policy: the secondary moves to its own tab and takes over when the primary’s closes', async () => {
  const strict = await serveStatic(outDir, { 'content-security-policy': metaPolicy(readFileSync(join(outDir, 'index.html'), 'utf8')) });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const first = await context.newPage();
    const problems = await watchProblems(first);
    await first.goto(new URL('?tabs', strict.url).href);
    await first.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
    const opened = context.waitForEvent('page');
    await first.click('[data-action="move-secondary"]');
    const second = await opened;
    problems.push(...(await watchProblems(second)));
    await expect.poll(() => second.getAttribute('[data-tab-runs]', 'data-tab-runs'), { timeout: 60_000 }).toBe('PC C');
    // Make before break: PC B protects until PC C holds checkpoint 1, then retires.
    await expect
      .poll(async () => `${await first.getAttribute('[data-tab-runs]', 'data-tab-runs')} ${await first.getAttribute('body', 'data-protected')}`, {
        timeout: 60_000,
      })
      .toBe('PC A true');
    await first.close({ runBeforeUnload: false });
    await second.waitForSelector('body[data-serving="secondary"]', { timeout: 30_000 });
    await expect.poll(() => second.locator('.requests li[data-state="released"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await second.getAttribute('[data-consistency]', 'data-consistency')).toBe('0');
    expect(problems).toEqual([]);
  } finally {
    await context.close();
    await strict.close();
  }
});
