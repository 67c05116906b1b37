// A setup a teacher can send as a link: the mode, period, compare mode, step
// mode, a breakpoint and a fault to inject when the breakpoint stops. Parsed
// from and written to a URL's query; values the page does not know are named,
// not guessed.
import { BREAK_FAULTS, type BreakFault } from '../engine/host/surface.ts';
import { COLO_MESSAGE_TYPES, type ColoMessageType } from '../engine/protocol/messages.ts';
import { CHECKPOINT_MODES, type CheckpointMode } from '../engine/replication/config.ts';

export interface Scenario {
  mode?: CheckpointMode;
  periodMs?: number;
  compare?: boolean;
  step?: boolean;
  breakBefore?: ColoMessageType;
  /** Injected once, the first time the breakpoint stops. */
  fault?: BreakFault;
}

const oneOf = <T extends string>(values: readonly T[], value: string): T | undefined => values.find((v) => v === value);

/** The scenario a query string names, and what in it the page could not use. */
export function parseScenario(query: string): { scenario: Scenario; problems: string[] } {
  const params = new URLSearchParams(query);
  const scenario: Scenario = {};
  const problems: string[] = [];
  const take = (name: string, read: (value: string) => boolean, expected: string) => {
    const value = params.get(name);
    if (value !== null && !read(value)) problems.push(`${name}=${value}: expected ${expected}`);
  };
  take('mode', (v) => (scenario.mode = oneOf(CHECKPOINT_MODES, v)) !== undefined, CHECKPOINT_MODES.join(', '));
  take('period', (v) => /^\d+$/.test(v) && Number(v) >= 10 && (scenario.periodMs = Number(v)) > 0, 'milliseconds, at least 10');
  take('compare', (v) => (v === 'on' || v === 'off') && (scenario.compare = v === 'on') !== undefined, 'on or off');
  take('step', (v) => (v === 'on' || v === 'off') && (scenario.step = v === 'on') !== undefined, 'on or off');
  take('break', (v) => (scenario.breakBefore = oneOf(COLO_MESSAGE_TYPES, v)) !== undefined, COLO_MESSAGE_TYPES.join(', '));
  take('fault', (v) => (scenario.fault = oneOf(BREAK_FAULTS, v)) !== undefined, BREAK_FAULTS.join(', '));
  if (scenario.fault && !scenario.breakBefore) problems.push(`fault=${scenario.fault}: it is injected when a breakpoint stops, and there is no break=`);
  return { scenario, problems };
}

/** The query string for `scenario` (empty parts left out). */
export function scenarioQuery(scenario: Scenario): string {
  const params = new URLSearchParams();
  if (scenario.mode) params.set('mode', scenario.mode);
  if (scenario.periodMs !== undefined) params.set('period', String(scenario.periodMs));
  if (scenario.compare !== undefined) params.set('compare', scenario.compare ? 'on' : 'off');
  if (scenario.step) params.set('step', 'on');
  if (scenario.breakBefore) params.set('break', scenario.breakBefore);
  if (scenario.fault) params.set('fault', scenario.fault);
  const query = params.toString();
  return query ? `?${query}` : '';
}
