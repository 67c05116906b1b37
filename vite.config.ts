/// <reference types="vitest/config" />
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * The limit of a unit or simulation test: pure logic (the simulation on virtual
 * time), where a limit only stops a runaway. `npm test` runs them at nice 19
 * beside the real VMs (tools/run-tests.ts), where a test may wait for the CPU for
 * as long as the VMs run: 120 s was too short for a simulation control in a run
 * beside other work.
 */
const LOGIC_TIMEOUT_MS = 30 * 60_000;

/** The custom element app/xterm-csp.ts defines: a <style> whose text becomes an adopted stylesheet. */
const XTERM_STYLE_TAG = 'xterm-adopted-style';

/**
 * The page's Content-Security-Policy (index.html) allows no inline style, and
 * xterm.js 6 styles its DOM renderer with <style> elements it creates (three)
 * and with style="" attributes on cells in 24-bit colour or in the selection
 * (one method). This rewrites the library as it is loaded, in the dev server
 * and the build alike: the <style> elements become app/xterm-csp.ts's
 * <xterm-adopted-style>, and the attribute is set through `element.style`,
 * both CSSOM, which the policy allows. When a new xterm no longer matches,
 * loading it fails here rather than the page quietly losing its styles.
 */
function xtermWithoutInlineStyles(): Plugin {
  const attributeRE = /(\w+)\.setAttribute\("style",`\$\{\1\.getAttribute\("style"\)\|\|""\}\$\{(\w+)\};`\)/g;
  return {
    name: 'colo:xterm-without-inline-styles',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.mjs$/.test(id.split('?')[0] ?? '')) return undefined;
      let styles = 0;
      let attributes = 0;
      const out = code
        .replaceAll('.createElement("style")', () => {
          styles++;
          return `.createElement(${JSON.stringify(XTERM_STYLE_TAG)})`;
        })
        .replace(attributeRE, (_match, element: string, css: string) => {
          attributes++;
          return `${element}.style.cssText+=${css}+";"`;
        });
      if (styles !== 3 || attributes !== 1) {
        throw new Error(`xterm.js: expected 3 <style> elements and 1 style attribute to rewrite for the CSP, found ${styles} and ${attributes}`);
      }
      return { code: out, map: null };
    },
  };
}

/** The packed guest files: gzip already, and most of what a page fetches. */
const PACKED_ASSET = /\.(v86gz|wasmgz)$/;

/**
 * The preview server (`npm start`) compresses every response whose type it
 * does not know as if it were text: the booted snapshot and the tracking
 * build, gzip already, went through gzip again on every request (10.5 MB:
 * 0.4 s in curl, 0.8–1.1 s to a page). Served as they are by its own file
 * server they still took 0.2–0.6 s in curl, read in 64 KiB pieces; read in
 * 1 MiB pieces, 0.02–0.04 s. So they are served here, as they are, in large
 * pieces, revalidated by their ETag like the rest of the site.
 */
function packedAssetsAsTheyAre(): Plugin {
  return {
    name: 'colo:packed-assets-as-they-are',
    configurePreviewServer(server) {
      const root = resolve(server.config.root, server.config.build.outDir);
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(req.url?.split('?')[0] ?? '');
        const file = join(root, normalize(path));
        if (!PACKED_ASSET.test(path) || !file.startsWith(root + sep) || !existsSync(file)) return next();
        const { size, mtimeMs } = statSync(file);
        const etag = `W/"${size}-${Math.floor(mtimeMs)}"`;
        res.setHeader('ETag', etag);
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('Content-Type', 'application/octet-stream');
        if (req.headers['if-none-match'] === etag) {
          res.statusCode = 304;
          res.end();
          return;
        }
        res.setHeader('Content-Length', size);
        createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
      });
    },
  };
}

/** How long a page test polls for what the page shows, unless the test says otherwise. */
const PAGE_POLL_MS = 10_000;

// wasm-assets/ is served as-is (guest images, manifest, licences) at the site root.
export default defineConfig({
  publicDir: 'wasm-assets',
  plugins: [xtermWithoutInlineStyles(), packedAssetsAsTheyAre()],
  // Served from node_modules as it is, not pre-bundled, so that the plugin above rewrites it in the dev server too.
  optimizeDeps: { exclude: ['@xterm/xterm'] },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173, strictPort: false },
  test: {
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/file-times-reporter.ts'],
    // `npm test` (tools/run-tests.ts) runs the real VMs (node, browser) one file
    // after another (each needs both cores), and beside them, in a run of its
    // own at nice 19, the pure logic and the simulation. Only browser needs a
    // browser: without one, its global setup stops a run that includes it
    // before any test, with one line saying how to get one; `npm test` then
    // leaves it out.
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: LOGIC_TIMEOUT_MS } },
      { extends: true, test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: LOGIC_TIMEOUT_MS } },
      { extends: true, test: { name: 'node', include: ['test/node/**/*.test.ts'], fileParallelism: false } },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/browser/require-chromium.ts'],
          // A page redraws what it shows every 200 ms; in npm test, beside the
          // niced lane, its thread was seen to fall a second and more behind,
          // and a poll with vitest's default 1 s gave up on a page that was
          // only slow. Each poll still waits for its condition, and names it.
          expect: { poll: { timeout: PAGE_POLL_MS } },
        },
      },
    ],
  },
});
