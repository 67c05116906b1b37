// The measurements' arithmetic: which mode a checkpoint was taken in, and a chart scale one outlier cannot flatten.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { chartTop, describeDisk, modeOf } from '../../app/views/metrics.ts';

const capture = (path: 'full' | 'delta', resumes: 'after-loaded' | 'after-capture'): TraceEvent & { kind: 'capture' } => ({
  kind: 'capture',
  time: 0,
  checkpoint: 1,
  cause: 'periodic',
  pauseStartedAt: 0,
  bytes: 1,
  captureMs: 1,
  stopMs: 0,
  path,
  resumes,
});

describe('measurements', () => {
  it("names a checkpoint's mode from how it moved and when the VM ran again", () => {
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

  it("sums up the disk part: the whole disk on a pair's first checkpoint, then the pages the guest wrote", () => {
    const withDisk = (checkpoint: number, disk: number | undefined, diskWhole = false) => ({
      ...capture('delta', 'after-loaded'),
      checkpoint,
      pages: { ram: 3, device: 1, ...(disk === undefined ? {} : { disk, ...(diskWhole ? { diskWhole } : {}) }) },
    });
    expect(describeDisk([withDisk(1, undefined)])).toBeUndefined();
    expect(describeDisk([withDisk(1, 2, true)])).toMatch(/^Checkpoint #1 carried the whole disk: its 2 pages \(8\.2 kB\) that are not all zeros/);
    const text = describeDisk([withDisk(1, 2, true), withDisk(2, 0), withDisk(3, 1), withDisk(4, 3), withDisk(5, 1)]);
    expect(text).toMatch(
      /^Checkpoint #5 carried 1 page \(4\.1 kB\) the guest wrote since the checkpoint before\. Over the last 4 checkpoints: 3 carried disk pages, median 1, most 3 per checkpoint\./,
    );
  });
});
