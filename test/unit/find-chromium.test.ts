// The browser tests find a Chromium, or the run stops at once saying how to get one.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findChromium, HOW_TO_GET_ONE } from '../../test/browser/find-chromium.ts';

describe('finding a Chromium', () => {
  it('takes CHROMIUM_PATH, else the first browser installed, else says how to get one', () => {
    const installed = (paths: string[]) => (path: string) => paths.includes(path);
    expect(findChromium({ CHROMIUM_PATH: '/opt/chrome' }, installed(['/opt/chrome', '/usr/bin/chromium']))).toBe('/opt/chrome');
    expect(findChromium({ CHROMIUM_PATH: '/opt/none' }, installed(['/usr/bin/chromium']))).toEqual(new Error(`CHROMIUM_PATH=/opt/none does not exist; ${HOW_TO_GET_ONE}`));
    expect(findChromium({}, installed(['/usr/bin/google-chrome', '/usr/bin/chromium']))).toBe('/usr/bin/chromium');
    expect(findChromium({}, installed(['/usr/bin/google-chrome']))).toBe('/usr/bin/google-chrome');
    expect(findChromium({}, installed([]))).toEqual(new Error(HOW_TO_GET_ONE));
  });

  it('stops a test run before any test when there is none, with one line', () => {
    const run = spawnSync('npx', ['vitest', 'run', 'test/unit/cpio.test.ts'], {
      encoding: 'utf8',
      env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chrome' },
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').filter((line) => line.includes('no Chromium found'))).toEqual([
      `npm test: CHROMIUM_PATH=/nonexistent/chrome does not exist; ${HOW_TO_GET_ONE}`,
    ]);
    expect(run.stdout).not.toContain('passed');
  });
});
