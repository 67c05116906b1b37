// Shrinks a failing schedule to a small one that still fails: drop actions
// one by one, turn network faults and guest quirks off, fall back to the
// simplest configuration, end earlier. Greedy, to a fixed point or a budget of
// runs; what is printed is the smallest schedule that still showed a violation.
import type { Action, PcPart, Schedule, TimedAction } from './schedule.ts';
import { runSchedule } from './simulate.ts';

/** A plainer action that may fail the same way: a kill for a hang, a closed tab or a freeze; a tab whose close the host hears at once. */
function plainer(action: Action): Action[] {
  const kill = (pc: PcPart): Action[] => (pc === 'primary' ? [{ kind: 'kill-primary' }] : pc === 'secondary' ? [{ kind: 'kill-secondary' }] : []);
  switch (action.kind) {
    case 'hang':
      return kill(action.pc);
    case 'close-tab':
      return [...kill(action.pc), ...(action.heardAfterMs === 0 ? [] : [{ kind: 'close-tab' as const, pc: action.pc, heardAfterMs: 0 }])];
    case 'freeze-primary':
      return [{ kind: 'kill-primary' }];
    case 'move-secondary':
      return [{ kind: 'kill-secondary' }];
    default:
      return [];
  }
}

function* candidates(s: Schedule): Generator<Schedule> {
  for (let i = 0; i < s.actions.length; i++) yield { ...s, actions: s.actions.filter((_, k) => k !== i) };
  for (let i = 0; i < s.actions.length; i++) {
    const { at } = s.actions[i] as TimedAction;
    for (const action of plainer(s.actions[i] as Action)) yield { ...s, actions: s.actions.map((a, k) => (k === i ? { at, ...action } : a)) };
  }
  const plan = s.plan;
  if (plan.drop > 0) yield { ...s, plan: { ...plan, drop: 0 } };
  if (plan.duplicate > 0) yield { ...s, plan: { ...plan, duplicate: 0 } };
  if (plan.corrupt > 0) yield { ...s, plan: { ...plan, corrupt: 0 } };
  if (plan.reorder) yield { ...s, plan: { ...plan, reorder: false } };
  if (plan.jitterMs > 0) yield { ...s, plan: { ...plan, jitterMs: 0 } };
  if ((plan.payloadMs ?? 0) > 0) yield { ...s, plan: { ...plan, payloadMs: 0 } };
  if (s.guests.some((g) => g.refuseLoads > 0)) yield { ...s, guests: s.guests.map((g) => ({ ...g, refuseLoads: 0 })) };
  if (s.guests.some((g) => g.loadMs > 0)) yield { ...s, guests: s.guests.map((g) => ({ ...g, loadMs: 0 })) };
  if (s.guests.some((g) => g.stopMs > 0)) yield { ...s, guests: s.guests.map((g) => ({ ...g, stopMs: 0 })) };
  if (s.guests.some((g) => (g.bootMs ?? 0) > 0)) yield { ...s, guests: s.guests.map((g) => ({ ...g, bootMs: 0 })) };
  if (s.guests.some((g) => (g.leadDelayMs ?? 0) > 0)) yield { ...s, guests: s.guests.map((g) => ({ ...g, leadDelayMs: 0 })) };
  if (s.compare) yield { ...s, compare: false };
  if (s.autoReprotect) yield { ...s, autoReprotect: false };
  if (s.warmSpare) yield { ...s, warmSpare: false };
  if (s.mode !== 'strict') yield { ...s, mode: 'strict' };
  const last = Math.max(0, ...s.actions.map((a) => a.at));
  if (s.durationMs > last + 100) yield { ...s, durationMs: Math.max(last + 100, Math.floor(s.durationMs / 2)) };
}

/** The smallest schedule found that still has a violation, with its violations. */
export async function shrink(failing: Schedule, budget = 150): Promise<{ schedule: Schedule; violations: string[]; runs: number }> {
  let best = failing;
  let violations = (await runSchedule(best)).violations;
  let runs = 1;
  for (let improved = true; improved && runs < budget;) {
    improved = false;
    for (const candidate of candidates(best)) {
      if (runs >= budget) break;
      runs++;
      const result = await runSchedule(candidate);
      if (result.violations.length > 0) {
        best = candidate;
        violations = result.violations;
        improved = true;
        break;
      }
    }
  }
  return { schedule: best, violations, runs };
}
