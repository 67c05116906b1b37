import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../tools/cpio.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('writeCpio', () => {
  it('writes newc records with 4-byte alignment and a trailer', () => {
    const archive = writeCpio([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'init', data: new TextEncoder().encode('#!/bin/sh\n'), mode: 0o755 },
      { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    ]);
    const all = text(archive);
    expect(archive.length % 4).toBe(0);
    expect(all.startsWith('070701')).toBe(true);
    expect(all).toContain('init\0');
    expect(all).toContain('#!/bin/sh\n');
    expect(all).toContain('TRAILER!!!\0');
    // The chardev record carries rdevmajor 5, rdevminor 1 (fields 10 and 11).
    const console = all.indexOf('dev/console');
    const header = all.slice(all.lastIndexOf('070701', console), console);
    expect(header.slice(6 + 9 * 8, 6 + 11 * 8)).toBe('0000000500000001');
    // Mode 0o100755 for the executable file.
    const init = all.indexOf('init\0');
    expect(all.slice(all.lastIndexOf('070701', init) + 14, all.lastIndexOf('070701', init) + 22)).toBe((0o100755).toString(16).padStart(8, '0'));
  });

  it('gives identical bytes for identical input (reproducible image)', () => {
    const entries = [{ kind: 'file' as const, path: 'a', data: new Uint8Array([1, 2, 3]) }];
    expect(writeCpio(entries)).toEqual(writeCpio(entries));
  });
});
