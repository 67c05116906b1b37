import { describe, expect, it } from 'vitest';
import { Transcript } from '../../engine/shared/transcript.ts';

describe('Transcript', () => {
  it('keeps positions valid after dropping old output, and stays bounded', () => {
    const t = new Transcript();
    t.append('hello ');
    const mark = t.end;
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 10; i++) t.append(chunk);
    t.append('needle\n');
    expect(t.retained.length).toBeLessThanOrEqual(256 * 1024);
    expect(t.end).toBe(6 + 10 * chunk.length + 7);
    const at = t.indexOf('needle', mark);
    expect(at).toBe(t.end - 7);
    expect(t.slice(at, at + 6)).toBe('needle');
    expect(t.indexOf('hello', 0)).toBe(-1);
  });
});
