// What the serving PC says it runs, beside what the operator asked: a setting
// reaches a PC as a command, and a PC still starting its part in a new pair
// takes it once it has (engine/replication/replication-role.ts), so the two
// can differ for a moment; the page shows the PC's word, and the difference.
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import type { RunningSettings } from '../../engine/replication/events.ts';
import { formatMs } from '../format.ts';

function describe(settings: Pick<RunningSettings, 'mode' | 'periodMs' | 'outputCommit' | 'compare'>): string {
  const replies = settings.outputCommit === 'unsafe' ? 'replies released at once (unsafe)' : 'replies held until a checkpoint covers them';
  return `${settings.mode} checkpoints every ${formatMs(settings.periodMs)}${settings.compare.enabled ? ', compare mode' : ''}, ${replies}`;
}

/** One line: what `name` runs, and what it is still to take of what the operator chose. */
export function runningSettingsLine(name: string, running: RunningSettings | undefined, asked: Readonly<ReplicationConfig>): string {
  if (!running) return `${name} has not reported its settings yet.`;
  const now = describe(running);
  const wanted = describe(asked);
  return now === wanted ? `${name} runs ${now}.` : `${name} runs ${now}; it is still to take: ${wanted}.`;
}
