/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// wasm-assets/ is served as-is (guest images, manifest, licences) at the site root.
export default defineConfig({
  publicDir: 'wasm-assets',
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173, strictPort: false },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Real VMs need both cores; test files run one after another.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
