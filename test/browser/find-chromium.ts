// Which Chromium the browser tests and benchmarks drive: CHROMIUM_PATH if set,
// else Debian's chromium, Google Chrome, or a browser Playwright installed
// itself (`npx playwright install chromium`). Playwright cannot download
// browsers on this project's machines; .ci/run installs Debian's chromium.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

export const HOW_TO_GET_ONE =
  'no Chromium found for the browser tests: install Debian\'s (sudo apt-get install chromium) or Google Chrome, run "npx playwright install chromium", or set CHROMIUM_PATH to a Chromium or Chrome binary';

/** The path of the Chromium to drive, or an error saying how to get one. */
export function findChromium(env: Readonly<Record<string, string | undefined>> = process.env, exists: (path: string) => boolean = existsSync): string | Error {
  const chosen = env.CHROMIUM_PATH;
  if (chosen !== undefined && chosen !== '') return exists(chosen) ? chosen : new Error(`CHROMIUM_PATH=${chosen} does not exist; ${HOW_TO_GET_ONE}`);
  const found = [...SYSTEM_BROWSERS, playwrightsOwn()].find((path) => path !== undefined && exists(path));
  return found ?? new Error(HOW_TO_GET_ONE);
}

function playwrightsOwn(): string | undefined {
  try {
    return chromium.executablePath();
  } catch {
    return undefined;
  }
}
