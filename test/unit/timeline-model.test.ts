// The timeline's model: what is drawn for a trace, and where labels go.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { marksIn, placeLabels, type LabelRequest } from '../../app/views/timeline-model.ts';

const names = { primary: 'PC A', secondary: 'PC B' };

function sent(time: number, type: 'checkpoint-request' | 'checkpoint-reply', checkpoint: number): TraceEvent {
  const from = type === 'checkpoint-request' ? 'primary' : 'secondary';
  return { kind: 'message', time, from, to: from === 'primary' ? 'secondary' : 'primary', at: 'sent', type, checkpoint };
}
function received(event: TraceEvent): TraceEvent {
  if (event.kind !== 'message') throw new Error('not a message');
  return { ...event, at: 'received', time: event.time + 2 };
}
function capture(time: number, checkpoint: number): TraceEvent {
  return {
    kind: 'capture',
    time,
    checkpoint,
    cause: 'periodic',
    pauseStartedAt: time - 5,
    bytes: 100,
    captureMs: 5,
    stopMs: 1,
    path: 'delta',
    resumes: 'after-loaded',
  };
}

describe('the timeline model', () => {
  it('pairs each message with its own receipt, and draws one still unread as in flight', () => {
    const request = sent(1000, 'checkpoint-request', 1);
    const reply = sent(1003, 'checkpoint-reply', 1);
    const next = sent(1100, 'checkpoint-request', 2);
    const marks = marksIn([request, received(request), reply, received(reply), next], 0, 2000, names).filter((m) => m.kind === 'message');
    expect(marks.map((m) => [m.label?.text, m.t0, m.t1, m.inFlight])).toEqual([
      ['checkpoint-request #1', 1000, 1002, false],
      ['checkpoint-reply #1', 1003, 1005, false],
      ['checkpoint-request #2', 1100, 2000, true],
    ]);
    expect(marks[0]?.text).toMatch(/^checkpoint-request for checkpoint #1 from the primary \(PC A, in flight 2 ms\)/);
  });

  it("ends a pause when the primary resumes, or dies, not at the window's end", () => {
    const trace: TraceEvent[] = [
      capture(1000, 1),
      { kind: 'resume', time: 1020, side: 'primary', checkpoint: 1, pausedMs: 25 },
      capture(2000, 2),
      { kind: 'host', time: 2100, action: 'kill-primary', detail: 'primary worker terminated' },
    ];
    const pauses = marksIn(trace, 0, 9000, names).filter((m) => m.kind === 'pause');
    expect(pauses.map((m) => [m.t0, m.t1])).toEqual([
      [995, 1020],
      [1995, 2100],
    ]);
  });

  it('names every mark the same in every frame, and draws only what reaches into the window', () => {
    const trace: TraceEvent[] = [
      capture(1000, 1),
      { kind: 'resume', time: 1020, side: 'primary', checkpoint: 1, pausedMs: 25 },
      { kind: 'host', time: 1500, action: 'fence', detail: 'old primary terminated' },
    ];
    const first = marksIn(trace, 0, 2000, names).map((m) => m.id);
    expect(first).toHaveLength(2);
    trace.push(sent(2500, 'checkpoint-request', 2));
    expect(
      marksIn(trace, 500, 3000, names)
        .map((m) => m.id)
        .slice(0, 2),
    ).toEqual(first);
    expect(marksIn(trace, 1600, 3000, names).map((m) => m.kind)).toEqual(['message']);
  });

  it('places labels so none overlaps another of its band, none leaves the drawing, and one with no room is left out', () => {
    const requests: LabelRequest[] = [
      { id: 'a', band: 'message', x: 100, width: 80 },
      { id: 'b', band: 'message', x: 120, width: 80 },
      { id: 'c', band: 'message', x: 130, width: 80 },
      { id: 'd', band: 'host', x: 130, width: 80 },
      { id: 'e', band: 'host', x: 480, width: 60 },
    ];
    const placed = placeLabels(requests, 70, 500, { host: 2, cause: 1, message: 2 });
    expect(placed.get('a')).toEqual({ x: 100, row: 0 });
    expect(placed.get('b')).toEqual({ x: 120, row: 1 });
    expect(placed.has('c')).toBe(false);
    // Another band has its own rows; a label at the right edge moves left to end inside.
    expect(placed.get('d')).toEqual({ x: 130, row: 0 });
    expect(placed.get('e')).toEqual({ x: 440, row: 0 });
  });

  it('keeps a label where it was when another arrives before it', () => {
    const first = placeLabels([{ id: 'b', band: 'message', x: 120, width: 80 }], 70, 500, { host: 2, cause: 1, message: 2 });
    expect(first.get('b')).toEqual({ x: 120, row: 0 });
    const next = placeLabels(
      [
        { id: 'a', band: 'message', x: 100, width: 80 },
        { id: 'b', band: 'message', x: 120, width: 80 },
      ],
      70,
      500,
      { host: 2, cause: 1, message: 2 },
      first,
    );
    expect(next.get('b')).toEqual({ x: 120, row: 0 });
    expect(next.get('a')).toEqual({ x: 100, row: 1 });
  });
});

describe('a sender that died with its last reports', () => {
  it('still shows what its peer read, at the receipt, once the send is overdue', () => {
    const request = sent(1000, 'checkpoint-request', 7);
    // The primary's report of sending it was lost with the primary; the secondary's receipt came.
    const trace = [received(request)];
    expect(marksIn(trace, 0, 1500, names).filter((m) => m.kind === 'message')).toEqual([]);
    const [mark] = marksIn(trace, 0, 2100, names).filter((m) => m.kind === 'message');
    expect(mark).toMatchObject({
      t0: 1002,
      t1: 1002,
      from: 'primary',
      to: 'secondary',
      inFlight: false,
      style: 'checkpoint-request unreported',
      label: { text: 'checkpoint-request #7' },
    });
    expect(mark?.text).toMatch(/^checkpoint-request for checkpoint #7 from the primary \(PC A\), read by the secondary; when it left is unknown/);
  });
});
