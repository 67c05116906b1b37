// Starts a server of the page and a Chromium for browser tests and benchmarks
// (which Chromium: find-chromium.ts).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, createServer, preview } from 'vite';
import { findChromium } from './find-chromium.ts';

/** The Chromium to drive; throws, saying how to get one, if there is none. */
export function chromiumPath(): string {
  const found = findChromium();
  if (found instanceof Error) throw found;
  return found;
}

// Without the background-networking flags Chromium keeps dialling out on this
// machine's closed network.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserRig {
  browser: Browser;
  baseUrl: string;
  /** A fresh page at `path`, with its problems (errors, warnings, CSP violations) collected. */
  open(path: string, viewport?: { width: number; height: number }): Promise<{ page: Page; problems: string[] }>;
  close(): Promise<void>;
}

const CONFIG_FILE = new URL('../../vite.config.ts', import.meta.url).pathname;

/**
 * What the rig serves: `sources`, Vite's dev server, for tests and benchmarks
 * that import the engine's modules into a page by path; `build`, the page as
 * `npm start` serves it (built once per rig, ~2 s, into a directory removed at
 * close; each page then reached protection 0.3–1.1 s sooner than from the sources, in one run).
 */
export type Served = 'sources' | 'build';

async function serve(served: Served): Promise<{ server: Server; close(): Promise<void> }> {
  if (served === 'sources') {
    const dev = await createServer({ configFile: CONFIG_FILE, server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
    await dev.listen();
    if (!dev.httpServer) throw new Error('vite: no HTTP server');
    return { server: dev.httpServer as Server, close: () => dev.close() };
  }
  const outDir = mkdtempSync(join(tmpdir(), 'colo-site-'));
  await build({ configFile: CONFIG_FILE, build: { outDir, emptyOutDir: true }, logLevel: 'error' });
  const site = await preview({ configFile: CONFIG_FILE, build: { outDir }, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
  return {
    server: site.httpServer as Server,
    close: async () => {
      await site.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

export async function startBrowserRig(served: Served = 'sources'): Promise<BrowserRig> {
  const { server, close } = await serve(served);
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('vite: no listening address');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  const baseUrl = `http://127.0.0.1:${address.port}/`;
  mkdirSync('test-results', { recursive: true });
  return {
    browser,
    baseUrl,
    async open(path, viewport = { width: 1280, height: 800 }) {
      const page = await browser.newPage({ viewport });
      const problems = await watchProblems(page);
      await page.goto(new URL(path, baseUrl).href);
      return { page, problems };
    },
    async close() {
      await browser.close();
      await close();
    },
  };
}

/**
 * Collects page errors, console errors and warnings, and Content-Security-Policy
 * violations (the page's `securitypolicyviolation` events; Chromium logs most
 * of them as console errors too): a clean page has none. Call before the page
 * navigates.
 */
export async function watchProblems(page: Page): Promise<string[]> {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  await page.exposeBinding('__reportCspViolation', (_source, text: string) => {
    problems.push(`csp violation: ${text}`);
  });
  await page.addInitScript(() => {
    const report = (window as unknown as { __reportCspViolation(text: string): Promise<void> }).__reportCspViolation;
    document.addEventListener(
      'securitypolicyviolation',
      (e) =>
        void report(`${e.effectiveDirective} refused ${e.blockedURI || 'inline'} at ${e.sourceFile || '?'}:${e.lineNumber}${e.sample ? ` (${e.sample})` : ''}`),
      { capture: true },
    );
  });
  return problems;
}
