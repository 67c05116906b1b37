// The measurements' arithmetic: which mode a checkpoint was taken in, and a chart scale one outlier cannot flatten.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { chartTop, modeOf } from '../../app/views/metrics.ts';

const capture = (path: 'full' | 'delta', resumes: 'after-loaded' | 'after-capture'): TraceEvent & { kind: 'capture' } => ({
  kind: 'capture', time: 0, checkpoint: 1, cause: 'periodic', pauseStartedAt: 0, bytes: 1, captureMs: 1, stopMs: 0, path, resumes,
});

describe('measurements', () => {
  it('names a checkpoint\'s mode from how it moved and when the VM ran again', () => {
    expect(modeOf(capture('full', 'after-loaded'))).toBe('naive');
    expect(modeOf(capture('delta', 'after-loaded'))).toBe('strict');
    expect(modeOf(capture('delta', 'after-capture'))).toBe('speculative');
  });

  it('tops a chart at three times the median, so a 28 MB initial sync leaves the 250 kB checkpoints visible', () => {
    expect(chartTop([250e3, 260e3, 28e6, 240e3, 255e3])).toBe(3 * 255e3);
    // Without an outlier the largest value is the top.
    expect(chartTop([4, 5, 6])).toBe(6);
    expect(chartTop([])).toBe(1);
    expect(chartTop([0, 0, 7])).toBe(7);
  });
});
