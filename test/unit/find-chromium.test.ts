// The browser tests find a Chromium, or their run stops at once saying how to get one.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findChromium, HOW_TO_GET_ONE } from '../../test/browser/find-chromium.ts';

describe('finding a Chromium', () => {
  it('takes CHROMIUM_PATH, else the first browser installed, else says how to get one', () => {
    const installed = (paths: string[]) => (path: string) => paths.includes(path);
    expect(findChromium({ CHROMIUM_PATH: '/opt/chrome' }, installed(['/opt/chrome', '/usr/bin/chromium']))).toBe('/opt/chrome');
    expect(findChromium({ CHROMIUM_PATH: '/opt/none' }, installed(['/usr/bin/chromium']))).toEqual(
      new Error(`CHROMIUM_PATH=/opt/none does not exist; ${HOW_TO_GET_ONE}`),
    );
    expect(findChromium({}, installed(['/usr/bin/google-chrome', '/usr/bin/chromium']))).toBe('/usr/bin/chromium');
    expect(findChromium({}, installed(['/usr/bin/google-chrome']))).toBe('/usr/bin/google-chrome');
    expect(findChromium({}, installed([]))).toEqual(new Error(HOW_TO_GET_ONE));
  });

  // Only the browser's tests need one: the rest run on a machine without (npm test runs them first).
  it('runs every other test without one, and stops the browser run before any test, with one line', () => {
    const without = (...args: string[]) =>
      spawnSync('npx', ['vitest', 'run', ...args], { encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chrome' }, timeout: 120_000 });
    const unit = without('--project', 'unit', 'test/unit/cpio.test.ts');
    expect(unit.status).toBe(0);
    expect(unit.stdout).toContain('passed');
    const browser = without('--project', 'browser', 'test/browser/vm.test.ts');
    expect(browser.status).toBe(1);
    expect(
      browser.stderr
        .trim()
        .split('\n')
        .filter((line) => line.includes('no Chromium found')),
    ).toEqual([`npm test: CHROMIUM_PATH=/nonexistent/chrome does not exist; ${HOW_TO_GET_ONE}`]);
    expect(browser.stdout).not.toContain('passed');
  });
});
