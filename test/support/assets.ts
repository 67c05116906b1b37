// Copies of wasm-assets/ with one file removed or altered, for bad-input tests.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ASSETS_DIR = join(import.meta.dirname, '..', '..', 'wasm-assets');

export function alteredAssets(change: (dir: string) => void): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'colo-assets-'));
  cpSync(ASSETS_DIR, dir, { recursive: true });
  change(dir);
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0xff;
  writeFileSync(path, bytes);
}
