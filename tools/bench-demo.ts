// `npm run bench:demo`: time from opening the demo page to "protected" (the
// secondary holds a complete checkpoint), then, on the same page, from a click
// on "Start a new secondary" after killing the primary to protected again:
// once with the spare PC (started in standby at the failover) ready, as for a
// person who reads the page first, and once clicking the moment the button
// enables; and the failover → spare ready time. And what the page costs: the
// bytes it fetched before protected, the memory it added to the browser (all
// of Chromium's processes, before the page against 15 s after protected: the
// sum of their resident memory, and of their proportional shares, which counts
// pages the processes share once), the same after every worker and the page
// collected their garbage, the PCs' WebAssembly memories, and the JS heap of
// the page and of each worker (with the ArrayBuffers they hold). Built site from
// a plain static server, headless Chromium, 5 fresh page opens.
// --out FILE (default bench-results/demo.json) gets { protected_ms, reprotect_ms,
// reprotect_at_once_ms, spare_ready_ms, fetched_bytes, added_rss_bytes,
// added_pss_bytes, added_rss_after_gc_bytes, pcs_wasm_bytes, js_heap_bytes,
// array_buffer_bytes } (quartiles).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../test/browser/chromium.ts';
import { serveStatic } from '../test/support/static-server.ts';
import { formatSummary, quartiles, summarize } from '../engine/shared/statistics.ts';
import { option } from './cli.ts';
import { jsHeaps } from './js-heaps.ts';
import { treeMemory } from './process-memory.ts';
import { BenchReport } from './bench-docs.ts';

const ROOT = join(import.meta.dirname, '..');
const OPENS = 5;
/** How long after protected the page's memory is read: the pair checkpoints and serves meanwhile. */
const SETTLE_MS = 15_000;

/** Counts the response bytes (bodies, as sent) of every request in `context`, workers' included, until the returned function is called. */
function countFetched(context: BrowserContext): () => number {
  let bytes = 0;
  let counting = true;
  context.on('requestfinished', (request) => {
    void request.sizes().then((sizes) => {
      if (counting) bytes += Math.max(0, sizes.responseBodySize) + Math.max(0, sizes.responseHeadersSize);
    });
  });
  return () => {
    counting = false;
    return bytes;
  };
}

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
  await page.waitForFunction((at) => document.body.dataset.protected === 'true' && Number(document.body.dataset.protectedAt) > at, clickedAt, {
    timeout: 60_000,
  });
  return Number(await page.getAttribute('body', 'data-protected-at')) - clickedAt;
}

const mb = (bytes: number | undefined) => `${((bytes ?? NaN) / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const out = option('--out') ?? join(ROOT, 'bench-results', 'demo.json');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const site = await serveStatic(join(ROOT, 'dist'));
  // A server, not a plain launch: its process is the root of the tree whose memory is read.
  // gc() in every worker and the page, to tell live memory from garbage not yet collected.
  const server = await chromium.launchServer({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'] });
  const browserPid = server.process().pid;
  if (browserPid === undefined) throw new Error('bench: Chromium has no process id');
  const browser = await chromium.connect(server.wsEndpoint());
  const fetchedBytes: number[] = [];
  const addedRssBytes: number[] = [];
  const addedPssBytes: number[] = [];
  const afterGcRssBytes: number[] = [];
  const wasmBytes: number[] = [];
  const jsHeapBytes: number[] = [];
  const arrayBufferBytes: number[] = [];
  let heapLine = '';
  const protectedMs: number[] = [];
  const reprotectMs: number[] = [];
  const reprotectAtOnceMs: number[] = [];
  const spareReadyMs: number[] = [];
  try {
    for (let i = 0; i < OPENS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const before = treeMemory(browserPid);
      const fetched = countFetched(context);
      await page.goto(site.url);
      await page.waitForSelector('body[data-protected="true"]', { timeout: 60_000 });
      fetchedBytes.push(fetched());
      protectedMs.push(Number(await page.getAttribute('body', 'data-protected-ms')));
      // The fixed wait is the measurement's definition: memory once the pair has run a while.
      await page.waitForTimeout(SETTLE_MS);
      const settled = treeMemory(browserPid);
      addedRssBytes.push(settled.rss - before.rss);
      addedPssBytes.push(settled.pss - before.pss);
      const heaps = await jsHeaps(browser);
      jsHeapBytes.push(heaps.reduce((sum, heap) => sum + heap.used, 0));
      arrayBufferBytes.push(heaps.reduce((sum, heap) => sum + heap.buffers, 0));
      // The page, its two PCs' workers, and v86's small timer worker in each.
      heapLine = heaps
        .map((heap) => `${heap.type === 'page' ? 'page' : heap.url.startsWith('blob:') ? 'v86 timer' : 'PC'} ${mb(heap.used)} (+${mb(heap.buffers)} buffers)`)
        .join(', ');
      const collect = () => (globalThis as unknown as { gc?: () => void }).gc?.();
      await Promise.all([page.evaluate(collect), ...page.workers().map((worker) => worker.evaluate(collect))]);
      afterGcRssBytes.push(treeMemory(browserPid).rss - before.rss);
      const pcs = await page.$$eval('[data-memory-bytes]', (spans) => spans.map((span) => Number(span.getAttribute('data-memory-bytes'))));
      wasmBytes.push(pcs.reduce((a, b) => a + b, 0));
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
        `open ${i + 1}/${OPENS}: protected after ${protectedMs.at(-1)} ms, ${mb(fetchedBytes.at(-1))} fetched; ` +
          `${SETTLE_MS / 1000} s later the browser holds ${mb(addedRssBytes.at(-1))} more (proportional ${mb(addedPssBytes.at(-1))}; ${mb(afterGcRssBytes.at(-1))} after collecting garbage), the two PCs' wasm memories ${mb(wasmBytes.at(-1))}; JS heaps in use ${heapLine}; spare ready ${spareReadyMs.at(-1)?.toFixed(0)} ms after the kill; ` +
          `re-protected ${reprotectMs.at(-1)?.toFixed(0)} ms after the click (spare ready), ${reprotectAtOnceMs.at(-1)?.toFixed(0)} ms (clicked at once)`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
    await site.close();
  }
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    date: new Date().toISOString(),
    protected_ms: quartiles(protectedMs),
    reprotect_ms: quartiles(reprotectMs),
    reprotect_at_once_ms: quartiles(reprotectAtOnceMs),
    spare_ready_ms: quartiles(spareReadyMs),
    fetched_bytes: quartiles(fetchedBytes),
    added_rss_bytes: quartiles(addedRssBytes),
    added_pss_bytes: quartiles(addedPssBytes),
    added_rss_after_gc_bytes: quartiles(afterGcRssBytes),
    pcs_wasm_bytes: quartiles(wasmBytes),
    js_heap_bytes: quartiles(jsHeapBytes),
    array_buffer_bytes: quartiles(arrayBufferBytes),
  };
  const docs = new BenchReport('demo', 'The demo page', 'npm run bench:demo');
  docs.line(`page open → protected: ${formatSummary(summarize(protectedMs), 'ms')}`);
  docs.line(`failover → spare ready: ${formatSummary(summarize(spareReadyMs), 'ms')}`);
  docs.line(`re-protect click (spare ready) → protected: ${formatSummary(summarize(reprotectMs), 'ms')}`);
  docs.line(`re-protect click at once → protected: ${formatSummary(summarize(reprotectAtOnceMs), 'ms')}`);
  docs.line(`fetched before protected: ${formatSummary(summarize(fetchedBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`resident memory added, ${SETTLE_MS / 1000} s after protected: ${formatSummary(summarize(addedRssBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`the same, proportional (shared pages counted once): ${formatSummary(summarize(addedPssBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(
    `resident memory added, after every worker and the page collected garbage: ${formatSummary(summarize(afterGcRssBytes.map((b) => b / 1e6)), 'MB', 1)}`,
  );
  docs.line(`the two PCs' WebAssembly memories then: ${formatSummary(summarize(wasmBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`JS heaps in use (the page and every worker), 15 s after protected: ${formatSummary(summarize(jsHeapBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.line(`ArrayBuffer contents they hold: ${formatSummary(summarize(arrayBufferBytes.map((b) => b / 1e6)), 'MB', 1)}`);
  docs.finish();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

await main();
