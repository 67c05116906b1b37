// One fault schedule over the real replication stack (cores, drivers, link,
// state paths, host, client and its history checker) with fake guests, a
// faulty network and virtual time. Invariants are checked after every step;
// then the world heals and the service must go on, and the ledger that serves
// the client is audited against everything the client was shown.
import { ClientSession } from '../../engine/host/client-session.ts';
import { ColoCluster } from '../../engine/host/cluster.ts';
import { moveSecondary } from '../../engine/host/service.ts';
import type { ClientOperation } from '../../engine/host/client-operation.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import { OPEN_GATE, type GateConfig } from '../../engine/replication/config.ts';
import { StateRegistry } from './fake-guest.ts';
import { SimNetwork } from './network.ts';
import { MAX_BLOCK_MS, MAX_LOAD_MS, MAX_PAYLOAD_MS, MAX_STARTUP_MS, type Action, type PcPart, type Schedule } from './schedule.ts';
import { SimScheduler, seededRandom } from './scheduler.ts';
import { SimNode } from './sim-node.ts';

/**
 * Once recovered, a PC that can serve releases something to the client at
 * least this often, or the service is stuck. A wedge shows as nothing released
 * since it began; a slow pair (a 1-byte-per-tick guest running 10 ms between
 * 200 ms pauses) as long gaps between repeats of retried requests: this is
 * longer than those.
 */
const PROGRESS_MS = 1100;
const CLIENT_RETRY_MS = 300;
const ARBITER_PING_MS = 100;
/** Above the heartbeat's miss limit (3 × 40 ms) with room for late beats, so schedules reach both dismissals and link failures. */
const LINK_FAILURE_MS = 400;
const COMPARE_TIMEOUT_MS = 300;
/** A state is captured and loaded within ~200 ms here (the slowest load and its transfer), not in v86's second. */
const HEARTBEAT = { intervalMs: 40, missLimit: 3, busyMs: 300 };
/** Above the slowest load with its transfer: a takeover waits for a load under way. */
const TAKEOVER_MS = 600;
const LEAVE_MS = 300;
/** Above the slowest spare's start. */
const SPARE_START_MS = 1000;

/**
 * How long after the world heals the pair must be protected again: the sum
 * of every wait the host's phases and the pair allow, each at its longest
 * (the bound their deadlines imply). A failed PC is suspected after the miss
 * limit (longer inside a checkpoint, or once a cut link's silence reaches
 * LINK_FAILURE_MS) and pinged; a takeover that does not come is given up at
 * TAKEOVER_MS; a primary told to leave COLO that has not is pinged after
 * LEAVE_MS; a spare that hung is replaced after SPARE_START_MS by one that
 * starts in up to MAX_STARTUP_MS; the survivor reads the booted snapshot
 * again (up to MAX_STARTUP_MS); checkpoint 1 is captured, carried and loaded.
 * 20 ms for the calls between host and PCs on the way.
 */
export const RECOVERY_BOUND_MS =
  Math.max(HEARTBEAT.missLimit * HEARTBEAT.intervalMs + HEARTBEAT.busyMs, LINK_FAILURE_MS + HEARTBEAT.missLimit * HEARTBEAT.intervalMs) +
  ARBITER_PING_MS +
  TAKEOVER_MS +
  LEAVE_MS +
  ARBITER_PING_MS +
  SPARE_START_MS +
  2 * MAX_STARTUP_MS +
  MAX_PAYLOAD_MS +
  MAX_LOAD_MS +
  // A busy thread: the survivor's initial sync and capture, the new secondary's check and load.
  4 * MAX_BLOCK_MS +
  20;
/** A healed world is watched at least this long, and then until the pair has been protected and served since. */
const QUIET_MS = 1000;

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
  /** Moves of the secondary that began (a hand-over), and those whose old secondary took over in the new one's place. */
  handOvers: number;
  fallBacks: number;
  arbitrations: number;
  /**
   * Protection ended with no fault at all (no PC of the pair hung, gone or
   * frozen, its link not cut): a link judged failed while both answered, or a
   * live PC too slow for the ping.
   */
  falseFailovers: number;
  /** Ends of protection the host counted as false alarms that were real faults it could not know of (a hang, a closed tab). */
  unseenFaults: number;
  /** Suspicions the host dismissed: the suspect answered its ping (late heartbeats that cost nothing). */
  dismissals: number;
  mismatches: number;
  /** Times a PC's thread was blocked by a capture, initial sync, check or load (see SimThread). */
  threadBlocks: number;
  serviceLost: boolean;
  /** Whether the schedule's liveness was judged (no message was lost on the link, and some PC could serve). */
  livenessJudged: boolean;
  /** Where liveness was judged: how long after the world healed the pair was protected again (0: it stayed protected). */
  recoveryMs: number;
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
  /** Why the first primary that left COLO left it ('' if none did). */
  primaryExit: string;
  /** Replies the client was given after that. */
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
  /** The service's one client, through the pair. */
  client: ClientSession;
  /** Every PC made so far, in order. */
  nodes: SimNode[];
  random: () => number;
  /** The world's faults end: the network's, and the PCs' slow answers and refused loads. */
  heal(): void;
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
    heartbeat: HEARTBEAT,
    gate: OPEN_GATE,
    outputCommit: schedule.outputCommit,
    // A page the tracking missed must reach the checker (a load of a state no guest captured), not stop COLO.
    verify: false,
    writeTracking: true,
  };
  const nodes: SimNode[] = [];
  let healed = false;
  const cluster = new ColoCluster<SimNode>({
    spawn: (name) => {
      const index = nodes.length;
      const plan = schedule.guests[index % schedule.guests.length] ?? { bytesPerTick: 4, clockSkewMs: 0, refuseLoads: 0, stopMs: 0, loadMs: 0 };
      // Only spares take time to start: the first pair starts at once (the page lets no fault in before it replicates).
      const traits = {
        ...plan,
        randomSeed: (schedule.seed * 31 + index) >>> 0,
        bootMs: index >= 2 ? (plan.bootMs ?? 0) : 0,
        ...(healed ? { refuseLoads: 0 } : {}),
      };
      const latency = plan.latencyMs ?? 2;
      const node = new SimNode(scheduler, registry, name, traits, () => random() * latency);
      nodes.push(node);
      return node;
    },
    assetBase: '',
    replication,
    clock: scheduler,
    channel: () => network.channel() as unknown as [MessagePort, MessagePort],
    timing: { pingTimeoutMs: ARBITER_PING_MS, linkFailureMs: LINK_FAILURE_MS, takeoverMs: TAKEOVER_MS, leaveMs: LEAVE_MS, spareStartMs: SPARE_START_MS },
    warmSpare: schedule.warmSpare === true,
  });
  // From now on no network fault, every PC answers at once, stops when asked and takes every load, those started later too.
  const heal = () => {
    healed = true;
    network.heal();
    for (const node of nodes) {
      node.pingDelayMs = 0;
      node.guest.refuseLoads = 0;
      node.guest.hangOnStop = false;
    }
  };
  const client = new ClientSession(cluster, scheduler, CLIENT_RETRY_MS);
  return { scheduler, network, registry, cluster, client, nodes, random, heal };
}

export async function runSchedule(schedule: Schedule, quietMs = QUIET_MS): Promise<ScheduleResult> {
  const { scheduler, network, registry, cluster, client, nodes, random, heal } = createWorld(schedule);
  const violations: string[] = [];
  const seen = new Set<string>();
  const violate = (text: string) => {
    if (!seen.has(text)) violations.push(text);
    seen.add(text);
  };
  const start = scheduler.now();
  const elapsed = () => Math.round(scheduler.now() - start);
  cluster.start().catch((err: unknown) => violate(`start failed: ${String(err)}`));
  cluster.setSparePolicy({ autoReprotect: schedule.autoReprotect });

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
    if (!client.ledger.pending) client.ledger.request(nextOperation());
  };
  let answered = 0;
  client.ledger.onAnswer(() => {
    answered++;
    scheduler.after(2 + random() * 18, next);
  });
  scheduler.after(1, next);

  let gate: GateConfig = OPEN_GATE;
  const setGate = (change: Partial<GateConfig>) => {
    gate = { ...gate, ...change };
    void cluster.configure({ gate });
  };
  const serving = () => (cluster.serving === 'primary' ? cluster.primary : cluster.secondary);
  /** PCs the operator froze: as silent as hung ones, for good. */
  const frozen = new Set<SimNode>();
  /** The pair whose link the operator cut. */
  let cutPair: number | undefined;
  // What the host calls a false alarm, against what the world did.
  let falseAlarms = 0;
  let unseenFaults = 0;
  cluster.onRecord((record) => {
    if (record.kind !== 'trace' || record.event.kind !== 'host' || record.event.action !== 'false-failover') return;
    const silent = (node: SimNode | undefined) => !!node && (!node.alive || node.hung || frozen.has(node));
    if (silent(cluster.primary) || silent(cluster.secondary) || cutPair === cluster.pair) unseenFaults++;
    else falseAlarms++;
  });
  const pcPlaying = (part: PcPart): SimNode | undefined =>
    part === 'primary' ? cluster.primary : part === 'secondary' ? cluster.secondary : nodes.find((node) => node.guest.name === cluster.spare?.name);
  const act = (action: Action) => {
    switch (action.kind) {
      case 'kill-primary':
        return cluster.kill('primary');
      case 'freeze-primary':
        if (cluster.primary && cluster.fate.primary === 'alive') frozen.add(cluster.primary);
        return cluster.freezePrimary();
      case 'kill-secondary':
        return cluster.kill('secondary');
      case 'cut-link':
        cutPair = cluster.pair;
        network.cutAll();
        return cluster.cutLink();
      case 'failover':
        return cluster.failover();
      case 'hang':
        return pcPlaying(action.pc)?.hang();
      case 'close-tab': {
        const node = pcPlaying(action.pc);
        if (!node?.alive) return;
        node.vanish();
        const { heardAfterMs } = action;
        if (heardAfterMs !== undefined) scheduler.after(heardAfterMs, () => cluster.workerEnded(node, 'its tab closed'));
        return;
      }
      case 'move-secondary':
        return void moveSecondary(cluster).catch(() => {});
      case 'reboot':
        return void serving()?.guest.reboot();
      case 'break-before':
        return setGate({ breakBefore: action.message ? [action.message] : [] });
      case 'reprotect':
        // A re-protection that a later fault cuts short fails, and says why: the checks below judge what follows.
        if (cluster.canReprotect) void cluster.reprotect().catch(() => {});
        return;
      case 'auto-reprotect':
        return cluster.setSparePolicy({ autoReprotect: action.on });
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

  // The world heals: no more faults, gates open, every PC answers at once, no
  // load is refused; and the operator wants protection back (re-protection
  // on), so a pair left unprotected must become protected again.
  const healAt = start + schedule.durationMs;
  /** Since when the pair has been protected without a break, if it is. */
  let protectedSince: number | undefined;
  scheduler.after(schedule.durationMs, () => {
    heal();
    setGate({ step: false, breakBefore: [], delayMs: 0 });
    cluster.setSparePolicy({ autoReprotect: true });
  });

  let servingNode: SimNode | undefined;
  let clientSeen = 0;
  let loadsSeen = 0;
  let answeredAtExit: number | undefined;
  let primaryExit = '';
  const check = () => {
    const seen = client.ledger.violations;
    while (clientSeen < seen.length) violate(`client: ${seen[clientSeen++] ?? ''}`);
    while (loadsSeen < registry.violations.length) violate(`load: ${registry.violations[loadsSeen++] ?? ''}`);
    const node = cluster.serving === 'primary' ? cluster.primary : cluster.secondary;
    if (node !== servingNode) {
      if (servingNode && node && !node.alive) violate(`at ${elapsed()} ms the client was routed to ${node.guest.name}, whose worker is gone`);
      servingNode = node;
    }
    if (claimsPrimary(cluster, 'primary') && claimsPrimary(cluster, 'secondary') && !cluster.arbitrationPending) {
      violate(`two primaries at ${elapsed()} ms with no arbitration under way`);
    }
    const { primary } = cluster.status;
    if (answeredAtExit === undefined && primary?.phase === 'exited') {
      answeredAtExit = answered;
      primaryExit = primary.exitDetail;
    }
    if (!cluster.protected) protectedSince = undefined;
    else protectedSince ??= scheduler.now();
  };
  // The healed world is watched for QUIET_MS, then until the pair is
  // protected and has served since, or the bound has passed.
  let steps = await scheduler.run(healAt + quietMs, check);
  const recovered = () => protectedSince !== undefined && lastShownAt > protectedSince;
  // Busy threads slow each round by its three blocks (capture, check, load); a
  // reply written just after a capture began waits for the round after.
  const progressMs = PROGRESS_MS + 6 * Math.max(0, ...schedule.guests.map((guest) => guest.blockMs ?? 0));
  while (!recovered() && scheduler.now() < healAt + RECOVERY_BOUND_MS + progressMs) steps += await scheduler.run(scheduler.now() + 50, check);

  const end = scheduler.now();
  const hostSaysLost = cluster.serviceLost;
  const servedBy = serving();
  const runs = (node: SimNode | undefined): node is SimNode => !!node?.alive && !node.hung && !frozen.has(node);
  // Lost in truth: the PC that serves is gone or hung, and no other PC in
  // the pair runs holding a checkpoint it could take over from (hung PCs
  // are the world's doing: the host cannot know of them but by silence).
  const other = servedBy === cluster.primary ? cluster.secondary : cluster.primary;
  const otherStatus = cluster.status[other === cluster.primary ? 'primary' : 'secondary'];
  const otherCouldServe = runs(other) && otherStatus !== undefined && otherStatus.phase !== 'exited' && otherStatus.committed > 0;
  const lost = !runs(servedBy) && !otherCouldServe;
  if (hostSaysLost !== undefined && runs(servedBy))
    violate(`the host gave the service up ("${hostSaysLost}") while ${servedBy.guest.name}, which serves, runs`);
  // A message lost on the link stalls the handshake with heartbeats still
  // flowing: a MessageChannel never loses one, so the engine has no
  // retransmission, and liveness is judged only where none was lost.
  const judgeLiveness = network.injected.drop === 0 && !lost;
  if (judgeLiveness) {
    const where = `${servedBy?.guest.name ?? 'no PC'} serving (${cluster.phase.kind})`;
    if (end - lastShownAt > progressMs) {
      const pending = client.ledger.pending;
      violate(
        `stuck: nothing released for ${Math.round(end - lastShownAt)} ms after the world healed, with ${where}` +
          (pending ? ` and ${pending.id} outstanding since ${Math.round(pending.sentAt - start)} ms` : ''),
      );
    }
    // A spare can always be started here, so a pair left unprotected is a wedge too.
    if (protectedSince === undefined || protectedSince - healAt > RECOVERY_BOUND_MS) {
      violate(
        `wedged: not protected again within ${RECOVERY_BOUND_MS} ms of the world's healing (${protectedSince === undefined ? 'not at all' : `${Math.round(protectedSince - healAt)} ms`}), with ${where}`,
      );
    }
  }
  if (runs(servedBy)) for (const v of client.ledger.audit(servedBy.guest.ledger, servedBy.guest.name)) violate(`audit: ${v}`);
  // Every setting the operator made reached the PCs that run: what each says it runs is what the host holds.
  for (const side of ['primary', 'secondary'] as const) {
    const node = side === 'primary' ? cluster.primary : cluster.secondary;
    const settings = cluster.status[side]?.settings;
    if (!runs(node) || !settings || cluster.fate[side] !== 'alive') continue;
    const wanted = cluster.configFor(side);
    for (const key of ['mode', 'periodMs', 'outputCommit', 'compare', 'gate'] as const) {
      if (JSON.stringify(settings[key]) !== JSON.stringify(wanted[key])) {
        violate(`settings: ${node.guest.name} (${side}) runs ${key} ${JSON.stringify(settings[key])}, the host holds ${JSON.stringify(wanted[key])}`);
      }
    }
  }
  check();

  const trace = cluster.trace;
  const count = (test: (e: (typeof trace)[number]) => boolean) => trace.filter(test).length;
  const summary = client.ledger.summary();
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
    handOvers: count((e) => e.kind === 'host' && e.action === 'hand-over' && !e.detail.includes('takes over in its place')),
    fallBacks: count((e) => e.kind === 'host' && e.action === 'hand-over' && e.detail.includes('takes over in its place')),
    arbitrations: count((e) => e.kind === 'host' && e.action === 'arbitrate'),
    falseFailovers: falseAlarms,
    unseenFaults,
    dismissals: count((e) => e.kind === 'host' && e.action === 'dismiss'),
    mismatches: count((e) => e.kind === 'compare' && e.verdict !== 'match'),
    threadBlocks: nodes.reduce((n, node) => n + node.thread.blocks, 0),
    serviceLost: lost,
    livenessJudged: judgeLiveness,
    recoveryMs: judgeLiveness && protectedSince !== undefined ? Math.max(0, Math.round(protectedSince - healAt)) : 0,
    checkpoints: count((e) => e.kind === 'load' && e.ok),
    answered: summary.answered,
    steps,
  };
  const result: ScheduleResult = {
    schedule,
    violations,
    reached,
    ...(hostSaysLost === undefined ? {} : { serviceLost: hostSaysLost }),
    primaryExit,
    answeredAfterExit: answeredAtExit === undefined ? 0 : summary.answered - answeredAtExit,
    traceLength: trace.length,
    traceDropped: cluster.traceDropped,
  };
  client.dispose();
  cluster.dispose();
  for (const node of nodes) node.terminate();
  return result;
}
