// One seeded fault schedule over the real replication stack (cores, drivers,
// link, host coordinator, client) with fake VMs, a faulty network and virtual
// time. Invariants are checked after every step.
import { ColoCluster } from '../../engine/colo/cluster.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import { CHECKPOINT_MODES, type ReplicationConfig } from '../../engine/replication/config.ts';
import { StateRegistry } from './fake-vm.ts';
import { SimNetwork, type FaultKind, type FaultPlan } from './network.ts';
import { SimScheduler, seededRandom } from './scheduler.ts';
import { SimNode } from './sim-node.ts';

export type Incident = 'kill-primary' | 'freeze-primary' | 'kill-secondary' | 'cut-link' | 'failover';
const INCIDENTS: Incident[] = ['kill-primary', 'freeze-primary', 'kill-secondary', 'cut-link', 'failover'];
const DURATION_MS = 2000;

export interface ScheduleResult {
  seed: number;
  plan: FaultPlan;
  periodMs: number;
  incidents: { at: number; kind: Incident }[];
  steps: number;
  faults: Record<FaultKind, number>;
  violations: string[];
  answered: number;
  checkpoints: number;
  failedOver: boolean;
  traceLength: number;
  traceDropped: number;
  primaryExit: string;
  /** Replies released after the primary left COLO (it must go on serving). */
  answeredAfterExit: number;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

export interface ScheduleOverrides {
  outputCommit?: 'hold' | 'unsafe';
  /** Exactly this incident ('none': no incident), at a random time, and no network faults. */
  incident?: Incident | 'none';
  durationMs?: number;
  periodMs?: number;
  /** Wedge the primary's VM (stop() never returns) at this time. */
  hangStopAfterMs?: number;
}

export async function runSchedule(seed: number, overrides: ScheduleOverrides = {}): Promise<ScheduleResult> {
  const random = seededRandom(seed);
  const scheduler = new SimScheduler();
  const faulty = overrides.incident === undefined && random() < 0.7;
  const plan: FaultPlan = {
    drop: faulty ? random() * 0.02 : 0,
    duplicate: faulty ? random() * 0.02 : 0,
    corrupt: faulty ? random() * 0.02 : 0,
    jitterMs: random() * 3,
    reorder: faulty && random() < 0.5,
  };
  const network = new SimNetwork(scheduler, random, plan);
  const registry = new StateRegistry();
  const periodMs = overrides.periodMs ?? 20 + Math.floor(random() * 180);
  const durationMs = overrides.durationMs ?? DURATION_MS;
  const replication: ReplicationConfig = {
    // From the seed, not the random stream, so recorded seeds replay unchanged.
    mode: CHECKPOINT_MODES[seed % CHECKPOINT_MODES.length] ?? 'strict',
    compare: { enabled: false, timeoutMs: 3000 },
    periodMs,
    heartbeat: { intervalMs: 10, missLimit: 5 },
    gate: { step: false, breakBefore: [] },
    outputCommit: overrides.outputCommit ?? 'hold',
  };
  let made = 0;
  const cluster = new ColoCluster<SimNode>({
    spawn: () => new SimNode(scheduler, registry, made++ === 0 ? 'PC A' : 'PC B'),
    assetBase: '',
    replication,
    clock: scheduler,
    channel: () => network.channel() as unknown as [MessagePort, MessagePort],
  });
  const start = scheduler.now();
  await cluster.start();

  const next = () => {
    if (!cluster.client.pending) cluster.client.request({ op: 'add', amount: 1 + Math.floor(random() * 9) });
  };
  cluster.client.onAnswer(() => scheduler.after(random() * 4, next));
  next();

  const { incident } = overrides;
  const count = incident === 'none' ? 0 : incident ? 1 : Math.floor(random() * 3);
  const incidents = Array.from({ length: count }, () => ({
    at: Math.floor(50 + random() * (durationMs - 400)),
    kind: incident === undefined || incident === 'none' ? pick(random, INCIDENTS) : incident,
  })).sort((a, b) => a.at - b.at);
  for (const incident of incidents) {
    scheduler.after(incident.at, () => {
      const act: Record<Incident, () => void> = {
        'kill-primary': () => cluster.killPrimary(),
        'freeze-primary': () => cluster.freezePrimary(),
        'kill-secondary': () => cluster.killSecondary(),
        'cut-link': () => {
          network.cut = true;
          cluster.cutLink();
        },
        failover: () => cluster.failover(),
      };
      act[incident.kind]();
    });
  }

  const violations: string[] = [];
  const seen = new Set<string>();
  const violate = (text: string) => {
    if (!seen.has(text)) violations.push(text);
    seen.add(text);
  };
  let serving: Side = 'primary';
  const check = () => {
    const report = cluster.client.summary();
    for (const v of report.violations) violate(`client: ${v}`);
    for (const v of registry.violations) violate(`load: ${v}`);
    if (cluster.serving !== serving) {
      if (serving === 'secondary') violate('serving moved back to the old primary');
      serving = cluster.serving;
    }
    const claims = (['primary', 'secondary'] as const).filter((side) => {
      const node = side === 'primary' ? cluster.primary : cluster.secondary;
      return node?.alive && cluster.fate[side] === 'alive' && cluster.status[side]?.role === 'primary';
    });
    if (claims.length > 1 && !cluster.arbitrationPending) violate(`two primaries at ${scheduler.now() - start} ms with no arbitration under way`);
  };
  if (overrides.hangStopAfterMs !== undefined) {
    scheduler.after(overrides.hangStopAfterMs, () => {
      if (cluster.primary) cluster.primary.vm.hangOnStop = true;
    });
  }
  let answeredAtExit: number | undefined;
  const steps = await scheduler.run(start + durationMs, () => {
    check();
    if (answeredAtExit === undefined && cluster.status.primary?.phase === 'exited') answeredAtExit = cluster.client.summary().answered;
  });
  const summary = cluster.client.summary();
  const checkpoints = Math.max(cluster.status.primary?.committed ?? 0, cluster.status.secondary?.committed ?? 0);
  cluster.dispose();
  return {
    seed,
    plan,
    periodMs,
    incidents,
    steps,
    faults: { ...network.injected },
    violations,
    answered: summary.answered,
    checkpoints,
    failedOver: cluster.serving === 'secondary',
    traceLength: cluster.trace.length,
    traceDropped: cluster.traceDropped,
    primaryExit: cluster.status.primary?.exitDetail ?? '',
    answeredAfterExit: answeredAtExit === undefined ? 0 : summary.answered - answeredAtExit,
  };
}
