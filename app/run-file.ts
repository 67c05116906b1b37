// A run saved as a file: the merged trace and heartbeats of a page's session,
// so it can be opened later without VMs and scrubbed like a live one. Reading
// one checks every event's fields the views read, so a damaged or foreign
// file is refused with what is wrong, never half drawn.
import type { Side } from '../engine/protocol/messages.ts';
import type { TraceEvent } from '../engine/protocol/trace.ts';

export const RUN_FILE_FORMAT = 'colo-v86-run';
export const RUN_FILE_VERSION = 1;

export interface RunFile {
  format: typeof RUN_FILE_FORMAT;
  version: typeof RUN_FILE_VERSION;
  /** ISO time the run was saved. */
  savedAt: string;
  /** The PC in each role when it was saved. */
  names: Record<Side, string>;
  /** Events the page had already let go of before these (a long run keeps the recent ones). */
  dropped: number;
  trace: TraceEvent[];
  heartbeats: Record<Side, number[]>;
}

export class RunFileError extends Error {
  override name = 'RunFileError';
}

type Field = 'number' | 'string' | 'boolean' | 'side' | 'lines';

/** Per kind of event, the fields the views read (`time` and `kind` for all). */
const FIELDS: { [K in TraceEvent['kind']]: Record<string, Field> } = {
  message: { from: 'side', to: 'side', at: 'string', type: 'string' },
  held: { side: 'side', type: 'string' },
  phase: { side: 'side', phase: 'string', checkpoint: 'number' },
  capture: {
    checkpoint: 'number',
    cause: 'string',
    pauseStartedAt: 'number',
    bytes: 'number',
    captureMs: 'number',
    stopMs: 'number',
    path: 'string',
    resumes: 'string',
  },
  load: { checkpoint: 'number', loadMs: 'number', ok: 'boolean' },
  'initial-sync': { method: 'string', detail: 'string' },
  resume: { side: 'side', checkpoint: 'number', pausedMs: 'number' },
  failover: { side: 'side', status: 'string' },
  compare: { verdict: 'string', checkpoint: 'number' },
  takeover: { from: 'number' },
  exit: { side: 'side', reason: 'string', detail: 'string' },
  error: { side: 'side', detail: 'string' },
  output: { side: 'side', state: 'string', lines: 'lines' },
  host: { action: 'string', detail: 'string' },
};

export function runFile(
  trace: readonly TraceEvent[],
  dropped: number,
  names: Readonly<Record<Side, string>>,
  heartbeats: (side: Side) => readonly number[],
  savedAt: Date,
): RunFile {
  return {
    format: RUN_FILE_FORMAT,
    version: RUN_FILE_VERSION,
    savedAt: savedAt.toISOString(),
    names: { ...names },
    dropped,
    trace: [...trace],
    heartbeats: { primary: [...heartbeats('primary')], secondary: [...heartbeats('secondary')] },
  };
}

/** A saved run read back, or a RunFileError that says what is wrong with it. */
export function parseRunFile(text: string): RunFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new RunFileError(`not a saved run: it is not JSON, or it was cut short (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(data) || data.format !== RUN_FILE_FORMAT) throw new RunFileError(`not a saved run of colo-v86 (its "format" should be "${RUN_FILE_FORMAT}")`);
  if (data.version !== RUN_FILE_VERSION)
    throw new RunFileError(`a saved run of version ${JSON.stringify(data.version)}; this page reads version ${RUN_FILE_VERSION}`);
  const { savedAt, names, dropped, trace, heartbeats } = data;
  if (typeof savedAt !== 'string') throw new RunFileError('"savedAt" is missing');
  if (!isRecord(names) || typeof names.primary !== 'string' || typeof names.secondary !== 'string')
    throw new RunFileError('"names" should name the primary and the secondary');
  if (typeof dropped !== 'number' || !(dropped >= 0)) throw new RunFileError('"dropped" should be a count');
  if (!isRecord(heartbeats) || !isTimes(heartbeats.primary) || !isTimes(heartbeats.secondary))
    throw new RunFileError('"heartbeats" should list times for the primary and the secondary');
  if (!Array.isArray(trace) || trace.length === 0) throw new RunFileError('the run has no events');
  let previous = -Infinity;
  trace.forEach((event: unknown, index) => {
    const problem = eventProblem(event, previous);
    if (problem) throw new RunFileError(`event #${index}: ${problem}`);
    previous = (event as TraceEvent).time;
  });
  return {
    format: RUN_FILE_FORMAT,
    version: RUN_FILE_VERSION,
    savedAt,
    names: { primary: names.primary, secondary: names.secondary },
    dropped,
    trace: trace as TraceEvent[],
    heartbeats: { primary: heartbeats.primary, secondary: heartbeats.secondary },
  };
}

function eventProblem(event: unknown, previous: number): string | undefined {
  if (!isRecord(event)) return 'not an object';
  const { kind, time } = event;
  if (typeof kind !== 'string' || !Object.hasOwn(FIELDS, kind)) return `unknown kind ${JSON.stringify(kind)}`;
  if (typeof time !== 'number' || !Number.isFinite(time)) return `${kind} without a time`;
  if (time < previous) return `${kind} out of time order`;
  for (const [field, type] of Object.entries(FIELDS[kind as TraceEvent['kind']])) {
    if (!fits(event[field], type)) return `${kind} whose "${field}" is not a ${type === 'lines' ? 'list of lines' : type}`;
  }
  return undefined;
}

function fits(value: unknown, type: Field): boolean {
  switch (type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'side':
      return value === 'primary' || value === 'secondary';
    case 'lines':
      return Array.isArray(value) && value.every((line) => typeof line === 'string');
    default:
      return typeof value === type;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isTimes = (value: unknown): value is number[] => Array.isArray(value) && value.every((t) => typeof t === 'number' && Number.isFinite(t));
