// What the page shows about each PC, derived from the service's state: the UI
// is a view of the cluster, never a second source of truth.
import type { ClusterState } from '../engine/host/surface.ts';
import type { Side } from '../engine/protocol/messages.ts';

export type Role = 'starting' | 'primary' | 'secondary' | 'unprotected' | 'dead' | 'frozen' | 'fenced' | 'stopped';
export type RunState = 'running' | 'paused' | 'loading' | 'stopped';

export interface VmView {
  role: Role;
  roleDetail: string;
  run: RunState;
  /** Checkpoint this PC holds: last captured (primary), last loaded (secondary). */
  checkpoint: number;
  /** Its serial console takes keystrokes. */
  interactive: boolean;
}

const PAUSED_PHASES = new Set(['capturing', 'await-received', 'await-loaded']);

/**
 * The last checkpoint the secondary holds: arrived whole and verified (the
 * primary's count, from vmstate-received) or loaded (the secondary's own),
 * whichever the host heard of first.
 */
export function secondaryHolds(cluster: ClusterState): number {
  const primary = cluster.status.primary?.committed ?? 0;
  const secondary = cluster.status.secondary;
  return secondary && secondary.role === 'secondary' ? Math.max(primary, secondary.committed) : primary;
}

export function viewOf(cluster: ClusterState, side: Side): VmView {
  const fate = cluster.fate[side];
  const status = cluster.status[side];
  const gone = (role: Role, detail: string): VmView => ({ role, roleDetail: detail, run: 'stopped', checkpoint: status?.committed ?? 0, interactive: false });
  if (fate === 'killed') return gone('dead', 'its worker was terminated');
  if (fate === 'ended') return gone('dead', 'its worker ended with the tab that ran it');
  if (fate === 'fenced') return gone('fenced', 'terminated by the host so it can never speak again');
  if (fate === 'frozen') return gone('frozen', 'hung: alive but silent');
  if (!status) return { role: 'starting', roleDetail: 'starting…', run: 'stopped', checkpoint: 0, interactive: false };

  if (side === 'primary') {
    const checkpoint = status.checkpoint;
    if (status.phase === 'exited') {
      return { role: 'unprotected', roleDetail: `primary alone: ${status.exitDetail}`, run: 'running', checkpoint, interactive: true };
    }
    const run: RunState = PAUSED_PHASES.has(status.phase) ? 'paused' : 'running';
    const detail = cluster.protected ? `protected: the secondary holds checkpoint ${secondaryHolds(cluster)}` : 'waiting for the first checkpoint';
    return { role: 'primary', roleDetail: detail, run, checkpoint, interactive: true };
  }
  if (status.role === 'primary') {
    const serving = cluster.serving === 'secondary';
    return {
      role: serving ? 'unprotected' : 'secondary',
      roleDetail: serving ? `took over from checkpoint ${status.committed}; now primary, alone` : 'taking over…',
      run: 'running',
      checkpoint: status.committed,
      interactive: serving,
    };
  }
  if (status.phase === 'exited') {
    return { role: 'stopped', roleDetail: `left COLO: ${status.exitDetail}`, run: 'paused', checkpoint: status.committed, interactive: false };
  }
  if (status.runsBetweenCheckpoints) {
    return {
      role: 'secondary',
      roleDetail: `runs on from checkpoint ${status.committed}, answering every request too; its replies are compared`,
      run: 'running',
      checkpoint: status.committed,
      interactive: false,
    };
  }
  // What the header says too: a checkpoint that arrived whole is held, loaded or not yet.
  const holds = secondaryHolds(cluster);
  return {
    role: 'secondary',
    roleDetail: holds > 0 ? `holds checkpoint ${holds}, paused between checkpoints` : 'waiting for the initial sync',
    run: status.phase === 'loading' ? 'loading' : 'paused',
    checkpoint: holds,
    interactive: false,
  };
}
