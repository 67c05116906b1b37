// A saved run: written, read back the same, and a damaged or foreign file refused with what is wrong.
import { describe, expect, it } from 'vitest';
import { parseRunFile, runFile, RunFileError } from '../../app/run-file.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';

const trace: TraceEvent[] = [
  { kind: 'message', time: 1000, from: 'primary', to: 'secondary', at: 'sent', type: 'checkpoint-request', checkpoint: 1 },
  {
    kind: 'capture',
    time: 1002,
    checkpoint: 1,
    cause: 'periodic',
    pauseStartedAt: 1000.5,
    bytes: 4096,
    captureMs: 1.5,
    stopMs: 0.2,
    path: 'delta',
    resumes: 'after-loaded',
  },
  { kind: 'output', time: 1010, side: 'primary', state: 'released', lines: ['7 total=3'], checkpoint: 1 },
  { kind: 'takeover', time: 1500, from: 1 },
];
const beats = { primary: [990, 1010], secondary: [995] };
const saved = JSON.stringify(runFile(trace, 12, { primary: 'PC A', secondary: 'PC B' }, (side) => beats[side], new Date(Date.UTC(2026, 10, 27))));

const refusal = (text: string) => {
  try {
    parseRunFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(RunFileError);
    return (err as Error).message;
  }
  throw new Error('read a bad file without complaint');
};

describe('saved runs', () => {
  it('read back what was saved', () => {
    const run = parseRunFile(saved);
    expect(run.trace).toEqual(trace);
    expect(run.heartbeats).toEqual(beats);
    expect(run).toMatchObject({ dropped: 12, names: { primary: 'PC A', secondary: 'PC B' }, savedAt: '2026-11-27T00:00:00.000Z' });
  });

  it('refuse a truncated, foreign, newer or damaged file, saying what is wrong', () => {
    expect(refusal(saved.slice(0, saved.length / 2))).toMatch(/^not a saved run: it is not JSON, or it was cut short/);
    expect(refusal('{"hello":1}')).toMatch(/^not a saved run of colo-v86/);
    expect(refusal(saved.replace('"version":1', '"version":2'))).toBe('a saved run of version 2; this page reads version 1');
    expect(refusal(saved.replace('"bytes":4096', '"bytes":"4096"'))).toBe('event #1: capture whose "bytes" is not a number');
    expect(refusal(saved.replace('"time":1010', '"time":900'))).toBe('event #2: output out of time order');
    expect(refusal(saved.replace('"kind":"takeover"', '"kind":"teleport"'))).toBe('event #3: unknown kind "teleport"');
    expect(refusal(saved.replace('"from":"primary"', '"from":"tertiary"'))).toBe('event #0: message whose "from" is not a side');
    expect(refusal(saved.replace('["7 total=3"]', '"7 total=3"'))).toBe('event #2: output whose "lines" is not a list of lines');
    expect(refusal(saved.replace(/"trace":\[.*\],"heartbeats"/, '"trace":[],"heartbeats"'))).toBe('the run has no events');
  });
});
