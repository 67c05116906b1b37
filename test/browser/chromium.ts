// Starts the Vite dev server and a Chromium for browser tests and benchmarks
// (which one: find-chromium.ts).
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
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

export async function startBrowserRig(): Promise<BrowserRig> {
  const server: ViteDevServer = await createServer({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    server: { port: 0, host: '127.0.0.1' },
    logLevel: 'warn',
  });
  await server.listen();
  const address = server.httpServer?.address();
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
      await server.close();
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
