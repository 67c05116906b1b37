// One fault schedule over the real replication stack (cores, drivers, link,
// state paths, host, client and its history checker) with fake guests, a
// faulty network and virtual time. Invariants are checked after every step;
// then the world heals and the service must go on, and the ledger that serves
// the client is audited against everything the client was shown.
import { ColoCluster } from '../../engine/host/cluster.ts';
import type { ClientOperation } from '../../engine/host/client-operation.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import { OPEN_GATE, type GateConfig } from '../../engine/replication/config.ts';
import { StateRegistry } from './fake-guest.ts';
import { SimNetwork } from './network.ts';
import type { Action, Schedule } from './schedule.ts';
import { SimScheduler, seededRandom } from './scheduler.ts';
import { SimNode } from './sim-node.ts';

/**
 * After the schedule's faults, this long of a healed world: longer than the
 * slowest legitimate recovery (a request lost in the failure is resent within
 * two retry periods, while detection and arbitration run; then it waits for a
 * checkpoint period and a slow load).
 */
const QUIET_MS = 1400;
/**
 * Once recovered, a PC that can serve releases something to the client at
 * least this often, or the service is stuck. A wedge shows as nothing released
 * since it began; a slow pair (a 1-byte-per-tick guest running 10 ms between
 * 200 ms pauses) as long gaps between repeats of retried requests: this is
 * longer than those, shorter than the quiet time.
 */
const PROGRESS_MS = 1100;
const CLIENT_RETRY_MS = 300;
const ARBITER_PING_MS = 100;
/** Above the heartbeat's miss limit (3 × 40 ms) with room for late beats, so schedules reach both dismissals and link failures. */
const LINK_FAILURE_MS = 400;
const COMPARE_TIMEOUT_MS = 300;

/** What a schedule reached, for the counts a run prints. */
export interface Reached {
  compare: boolean;
  deltas: number;
  fullStates: number;
  /** Initial syncs of a new pair: on the booted snapshot both held, or a full copy. */
  sharedBaseSyncs: number;
  fullSyncs: number;
  loadsRefused: number;
  relaunches: number;
  failovers: number;
  reprotections: number;
  arbitrations: number;
  /** Protection ended with no PC killed or frozen and no cut: a link judged failed while both answered, or a live PC too slow for the ping. */
  falseFailovers: number;
  /** Suspicions the host dismissed: the suspect answered its ping (late heartbeats that cost nothing). */
  dismissals: number;
  mismatches: number;
  serviceLost: boolean;
  /** Whether the schedule's liveness was judged (no message was lost on the link). */
  livenessJudged: boolean;
  checkpoints: number;
  answered: number;
  steps: number;
}

export interface ScheduleResult {
  schedule: Schedule;
  violations: string[];
  reached: Reached;
  /** Why no PC could serve at the end, if so. */
  serviceLost?: string;
  primaryExit: string;
  answeredAfterExit: number;
  traceLength: number;
  traceDropped: number;
}

/** A live, unfenced PC whose replication says it is a primary. */
function claimsPrimary(cluster: ColoCluster<SimNode>, side: 'primary' | 'secondary'): boolean {
  const pc = side === 'primary' ? cluster.primary : cluster.secondary;
  return !!pc?.alive && cluster.fate[side] === 'alive' && cluster.status[side]?.role === 'primary';
}

/** A simulated world: the cluster of SimNodes on a faulty network, on virtual time. */
export interface SimWorld {
  scheduler: SimScheduler;
  network: SimNetwork;
  registry: StateRegistry;
  cluster: ColoCluster<SimNode>;
  /** Every PC made so far, in order. */
  nodes: SimNode[];
  random: () => number;
}

export function createWorld(schedule: Schedule): SimWorld {
  const random = seededRandom(schedule.seed ^ 0x9e3779b9);
  const scheduler = new SimScheduler();
  const network = new SimNetwork(scheduler, random, schedule.plan);
  const registry = new StateRegistry();
  const replication: ReplicationConfig = {
    mode: schedule.mode,
    compare: { enabled: schedule.compare, timeoutMs: COMPARE_TIMEOUT_MS },
    periodMs: schedule.periodMs,
    heartbeat: { intervalMs: 40, missLimit: 3 },
    gate: OPEN_GATE,
    outputCommit: schedule.outputCommit,
    // A page the tracking missed must reach the checker (a load of a state no guest captured), not stop COLO.
    verify: false,
    writeTracking: true,
  };
  const nodes: SimNode[] = [];
  const cluster = new ColoCluster<SimNode>({
    spawn: () => {
      const index = nodes.length;
      const plan = schedule.guests[index % schedule.guests.length] ?? { bytesPerTick: 4, clockSkewMs: 0, refuseLoads: 0, stopMs: 0, loadMs: 0 };
      // Only spares take time to start: the first pair starts at once (the page lets no fault in before it replicates).
      const traits = { ...plan, randomSeed: (schedule.seed * 31 + index) >>> 0, bootMs: index >= 2 ? (plan.bootMs ?? 0) : 0 };
      const latency = plan.latencyMs ?? 2;
      const node = new SimNode(scheduler, registry, `PC ${String.fromCharCode(65 + index)}`, traits, () => random() * latency);
      nodes.push(node);
      return node;
    },
    assetBase: '',
    replication,
    clock: scheduler,
    channel: () => network.channel() as unknown as [MessagePort, MessagePort],
    clientRetryMs: CLIENT_RETRY_MS,
    arbiterPingMs: ARBITER_PING_MS,
    linkFailureMs: LINK_FAILURE_MS,
  });
  return { scheduler, network, registry, cluster, nodes, random };
}

export async function runSchedule(schedule: Schedule, quietMs = QUIET_MS): Promise<ScheduleResult> {
  const { scheduler, network, registry, cluster, nodes, random } = createWorld(schedule);
  const violations: string[] = [];
  const seen = new Set<string>();
  const violate = (text: string) => {
    if (!seen.has(text)) violations.push(text);
    seen.add(text);
  };
  const start = scheduler.now();
  const elapsed = () => Math.round(scheduler.now() - start);
  cluster.start().catch((err: unknown) => violate(`start failed: ${String(err)}`));
  cluster.setAutoReprotect(schedule.autoReprotect);

  // The client: one request at a time, the next a moment after each answer.
  const weights = Object.entries(schedule.operations) as [ClientOperation['op'], number][];
  const sum = weights.reduce((n, [, w]) => n + w, 0);
  const nextOperation = (): ClientOperation => {
    let r = random() * sum;
    for (const [op, w] of weights) {
      if ((r -= w) < 0) return op === 'add' ? { op, amount: 1 + Math.floor(random() * 9) } : { op };
    }
    return { op: 'get' };
  };
  // Progress is any line the client is shown: a slow guest working through
  // retried requests shows repeats before it reaches the outstanding one.
  let lastShownAt = scheduler.now();
  cluster.onReleased(() => (lastShownAt = scheduler.now()));
  const next = () => {
    if (!cluster.client.pending) cluster.client.request(nextOperation());
  };
  let answered = 0;
  cluster.client.onAnswer(() => {
    answered++;
    scheduler.after(2 + random() * 18, next);
  });
  scheduler.after(1, next);

  let gate: GateConfig = OPEN_GATE;
  const setGate = (change: Partial<GateConfig>) => {
    gate = { ...gate, ...change };
    void cluster.configure({ gate });
  };
  const act = (action: Action) => {
    switch (action.kind) {
      case 'kill-primary':
        return cluster.killPrimary();
      case 'freeze-primary':
        return cluster.freezePrimary();
      case 'kill-secondary':
        return cluster.killSecondary();
      case 'cut-link':
        network.cutAll();
        return cluster.cutLink();
      case 'failover':
        return cluster.failover();
      case 'reprotect':
        if (cluster.canReprotect) void cluster.reprotect().catch((err: unknown) => violate(`re-protection failed: ${String(err)}`));
        return;
      case 'auto-reprotect':
        return cluster.setAutoReprotect(action.on);
      case 'mode':
        return cluster.configure({ mode: action.mode });
      case 'compare':
        return cluster.configure({ compare: { ...cluster.config.compare, enabled: action.on } });
      case 'hold-output':
        return cluster.configure({ outputCommit: 'hold' });
      case 'period':
        return cluster.configure({ periodMs: action.ms });
      case 'checkpoint-now':
        return cluster.checkpointNow();
      case 'step-mode':
        return setGate({ step: action.on });
      case 'step':
        return void cluster.step();
      case 'delay':
        return setGate({ delayMs: action.ms });
      case 'ping-delay':
        if (cluster.primary) cluster.primary.pingDelayMs = action.ms;
        return;
      case 'hang-stop':
        if (cluster.primary) cluster.primary.guest.hangOnStop = true;
        return;
    }
  };
  for (const action of schedule.actions) scheduler.after(action.at, () => act(action));

  // The world heals: no more faults, gates open, every PC answers at once, no load is refused.
  const healAt = start + schedule.durationMs;
  scheduler.after(schedule.durationMs, () => {
    network.heal();
    setGate({ step: false, breakBefore: [], delayMs: 0 });
    for (const node of nodes) {
      node.pingDelayMs = 0;
      node.guest.refuseLoads = 0;
    }
  });

  let servingNode: SimNode | undefined;
  let clientSeen = 0;
  let loadsSeen = 0;
  let answeredAtExit: number | undefined;
  const check = () => {
    const client = cluster.client.violations;
    while (clientSeen < client.length) violate(`client: ${client[clientSeen++] ?? ''}`);
    while (loadsSeen < registry.violations.length) violate(`load: ${registry.violations[loadsSeen++] ?? ''}`);
    const node = cluster.serving === 'primary' ? cluster.primary : cluster.secondary;
    if (node !== servingNode) {
      if (servingNode && node && !node.alive) violate(`at ${elapsed()} ms the client was routed to ${node.guest.name}, whose worker is gone`);
      servingNode = node;
    }
    if (claimsPrimary(cluster, 'primary') && claimsPrimary(cluster, 'secondary') && !cluster.arbitrationPending) {
      violate(`two primaries at ${elapsed()} ms with no arbitration under way`);
    }
    if (answeredAtExit === undefined && cluster.status.primary?.phase === 'exited') answeredAtExit = answered;
  };
  const steps = await scheduler.run(healAt + quietMs, check);

  const end = scheduler.now();
  const serviceLost = cluster.serviceLost;
  const serving = cluster.serving === 'primary' ? cluster.primary : cluster.secondary;
  // A message lost on the link stalls the handshake with heartbeats still
  // flowing: a MessageChannel never loses one, so the engine has no
  // retransmission, and liveness is judged only where none was lost.
  const judgeLiveness = network.injected.drop === 0;
  if (serviceLost === undefined) {
    if (judgeLiveness && end - lastShownAt > PROGRESS_MS) {
      const pending = cluster.client.pending;
      violate(
        `stuck: nothing released for ${Math.round(end - lastShownAt)} ms after the world healed, with ${serving?.guest.name ?? 'no PC'} serving` +
          (pending ? ` and ${pending.id} outstanding since ${Math.round(pending.sentAt - start)} ms` : ''),
      );
    }
    if (serving?.alive) for (const v of cluster.client.audit(serving.guest.ledger, serving.guest.name)) violate(`audit: ${v}`);
  }
  check();

  const trace = cluster.trace;
  const count = (test: (e: (typeof trace)[number]) => boolean) => trace.filter(test).length;
  const summary = cluster.client.summary();
  const reached: Reached = {
    compare: schedule.compare || schedule.actions.some((a) => a.kind === 'compare' && a.on),
    deltas: count((e) => e.kind === 'capture' && e.path === 'delta'),
    fullStates: count((e) => e.kind === 'capture' && e.path === 'full'),
    sharedBaseSyncs: count((e) => e.kind === 'initial-sync' && e.method === 'shared-base'),
    fullSyncs: count((e) => e.kind === 'initial-sync' && e.method === 'full'),
    loadsRefused: nodes.reduce((n, node) => n + node.guest.loadsRefused, 0),
    relaunches: count((e) => e.kind === 'failover' && e.status === 'relaunch'),
    failovers: count((e) => e.kind === 'host' && e.action === 'primary-changed'),
    reprotections: count((e) => e.kind === 'host' && e.action === 'reprotect'),
    arbitrations: count((e) => e.kind === 'host' && e.action === 'arbitrate'),
    falseFailovers: count((e) => e.kind === 'host' && e.action === 'false-failover'),
    dismissals: count((e) => e.kind === 'host' && e.action === 'dismiss'),
    mismatches: count((e) => e.kind === 'compare' && e.verdict !== 'match'),
    serviceLost: serviceLost !== undefined,
    livenessJudged: judgeLiveness,
    checkpoints: count((e) => e.kind === 'load' && e.ok),
    answered: summary.answered,
    steps,
  };
  const result: ScheduleResult = {
    schedule,
    violations,
    reached,
    ...(serviceLost === undefined ? {} : { serviceLost }),
    primaryExit: cluster.status.primary?.exitDetail ?? '',
    answeredAfterExit: answeredAtExit === undefined ? 0 : summary.answered - answeredAtExit,
    traceLength: trace.length,
    traceDropped: cluster.traceDropped,
  };
  cluster.dispose();
  for (const node of nodes) node.terminate();
  return result;
}
