// Vitest's global setup: with no Chromium to drive, the run stops before any
// test, with one line saying how to get one (not four files of launch errors).
import { findChromium } from './find-chromium.ts';

export default function requireChromium(): void {
  const found = findChromium();
  if (found instanceof Error) {
    console.error(`npm test: ${found.message}`);
    process.exit(1);
  }
}
