// A fault schedule as plain data: what the network does, how the guests
// behave, the configuration, and the operator's and the world's actions at
// given times. Made from a seed (so a seed replays it), printed as JSON and
// replayable from it, and small enough for the shrinker to take apart.
import { COLO_MESSAGE_TYPES, type ColoMessageType } from '../../engine/protocol/messages.ts';
import { CHECKPOINT_MODES, type CheckpointMode } from '../../engine/replication/config.ts';
import type { FaultPlan } from './network.ts';
import { seededRandom } from './scheduler.ts';

/** A PC by the part it plays when the action happens: the spare is the one starting in standby, if any. */
export type PcPart = 'primary' | 'secondary' | 'spare';

export type Action =
  | { kind: 'kill-primary' }
  | { kind: 'freeze-primary' }
  | { kind: 'kill-secondary' }
  | { kind: 'cut-link' }
  | { kind: 'failover' }
  /** The PC stops answering anything (not dead: its worker and channel stay), and the host is not told. */
  | { kind: 'hang'; pc: PcPart }
  /** The tab that runs the PC closes (a two-tab run): its worker ends by itself; the host hears of it after `heardAfterMs`, or never. */
  | { kind: 'close-tab'; pc: PcPart; heardAfterMs?: number }
  /** A two-tab run's "Move the secondary to a new tab". */
  | { kind: 'move-secondary' }
  /** The serving PC's guest reboots ("Reboot the guest"). */
  | { kind: 'reboot' }
  | { kind: 'reprotect' }
  | { kind: 'auto-reprotect'; on: boolean }
  | { kind: 'mode'; mode: CheckpointMode }
  | { kind: 'compare'; on: boolean }
  /** Output commit set (again) to hold: it must keep what it holds. */
  | { kind: 'hold-output' }
  | { kind: 'period'; ms: number }
  | { kind: 'checkpoint-now' }
  | { kind: 'step-mode'; on: boolean }
  | { kind: 'step' }
  | { kind: 'delay'; ms: number }
  /** A breakpoint: the handshake stops before this message until a step (or none: no breakpoint). */
  | { kind: 'break-before'; message?: ColoMessageType }
  /** The primary answers the host's ping this late while alive (a busy worker). */
  | { kind: 'ping-delay'; ms: number }
  /** The primary's VM stops answering stop() (a wedged emulator). */
  | { kind: 'hang-stop' };

export type ActionKind = Action['kind'];
export type TimedAction = Action & { at: number };

export interface GuestPlan {
  bytesPerTick: number;
  clockSkewMs: number;
  refuseLoads: number;
  stopMs: number;
  loadMs: number;
  /** Longest delay of a call into this PC's worker, in order (default 2 ms): a busy worker takes the client's bytes late. */
  latencyMs?: number;
  /** How much of the client's stream the guest keeps for refills (default 4096 bytes; small: refills fail). */
  inputLogBytes?: number;
  /** The guest marks the pages it writes, as the write-tracking v86 build does (default: no, the delta path scans). */
  tracksWrites?: boolean;
  /** How long starting this PC takes when it is a spare for re-protection (a worker boots and restores the snapshot; default 0). */
  bootMs?: number;
  /** The longest its capture, initial sync, check or load of a state blocks its thread (default 0): nothing else runs there meanwhile. */
  blockMs?: number;
  /**
   * How long this PC, a survivor told to lead a new pair, waits before it starts
   * that part (default 0). Today's workers start at once; one that waited (as
   * when a survivor read the booted snapshot again first) let commands for the
   * new pair arrive before its role: they must wait for it, not be lost.
   */
  leadDelayMs?: number;
}

export interface Schedule {
  seed: number;
  /** Faults and actions happen in [0, durationMs); then the world heals and the service must go on. */
  durationMs: number;
  plan: FaultPlan;
  periodMs: number;
  mode: CheckpointMode;
  compare: boolean;
  outputCommit: 'hold' | 'unsafe';
  autoReprotect: boolean;
  /** A spare waits in standby while the pair is protected, as in the page (default: none until the pair is unprotected). */
  warmSpare?: boolean;
  /** Guests in the order they are made: PC A, PC B, then each new secondary. */
  guests: GuestPlan[];
  /** What the client asks, by weight. */
  operations: { add: number; get: number; rand: number; time: number };
  actions: TimedAction[];
}

export const DURATION_MS = 1200;
/** The longest a spare takes to start, and a survivor to read the booted snapshot again. */
export const MAX_STARTUP_MS = 500;
/** The longest a slow secondary's load takes. */
export const MAX_LOAD_MS = 150;
/** The longest a state takes to cross the link and be read. */
export const MAX_PAYLOAD_MS = 40;
/**
 * The longest a capture, an initial sync, a check or a load blocks a PC's
 * thread: under the busy time a side announces (300 ms here) with room for
 * the beats around it, as v86's 120–360 ms under its 1 s.
 */
export const MAX_BLOCK_MS = 250;

/** Faults, and the operator's commands about the pair: 1 to 6 a schedule, at any moment, two possibly in the same millisecond. */
const INCIDENTS: ActionKind[] = [
  'kill-primary',
  'freeze-primary',
  'kill-secondary',
  'cut-link',
  'failover',
  'hang',
  'close-tab',
  'move-secondary',
  'reboot',
  'reprotect',
];
/** Settings and the like: 0 to 4 a schedule. */
const SWITCHES: ActionKind[] = [
  'auto-reprotect',
  'mode',
  'compare',
  'hold-output',
  'period',
  'checkpoint-now',
  'step-mode',
  'delay',
  'break-before',
  'ping-delay',
];
const PARTS: readonly PcPart[] = ['primary', 'secondary', 'spare'];
export const MAX_INCIDENTS = 6;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function actionOf(kind: ActionKind, random: () => number): Action {
  switch (kind) {
    case 'auto-reprotect':
      return { kind, on: random() < 0.7 };
    case 'mode':
      return { kind, mode: pick(random, CHECKPOINT_MODES) };
    case 'compare':
      return { kind, on: random() < 0.6 };
    case 'period':
      return { kind, ms: 10 + Math.floor(random() * 190) };
    case 'step-mode':
      return { kind, on: true };
    case 'delay':
      return { kind, ms: Math.floor(random() * 30) };
    case 'ping-delay':
      return { kind, ms: Math.floor(random() * 250) };
    case 'hang':
      return { kind, pc: pick(random, PARTS) };
    case 'close-tab': {
      const pc = pick(random, PARTS);
      // A tab that closes says so ("bye") most of the time; a crashed one never does.
      return random() < 0.8 ? { kind, pc, heardAfterMs: Math.floor(random() * 100) } : { kind, pc };
    }
    case 'break-before':
      return random() < 0.8 ? { kind, message: pick(random, COLO_MESSAGE_TYPES) } : { kind };
    default:
      return { kind } as Action;
  }
}

export function scheduleFromSeed(seed: number): Schedule {
  const random = seededRandom(seed);
  const faulty = random() < 0.4;
  const plan: FaultPlan = {
    drop: faulty ? random() * 0.02 : 0,
    duplicate: faulty ? random() * 0.02 : 0,
    corrupt: faulty ? random() * 0.02 : 0,
    jitterMs: random() * 3,
    reorder: faulty && random() < 0.5,
    payloadMs: random() < 0.5 ? Math.floor(random() * MAX_PAYLOAD_MS) : 0,
  };
  const refuseLoads = random() < 0.3 ? random() * 0.3 : 0;
  // Some secondaries load slowly, slower than failure detection: a failover then waits for the load.
  const slowLoads = random() < 0.25;
  // Some guests keep little of the client's stream, so a refill after a load can fail.
  const shortLogs = random() < 0.2;
  // Its own stream, so the schedules of the seeds before write tracking stay as they were.
  const tracksWrites = seededRandom(seed ^ 0x2545f491)() < 0.75;
  // And its own for the page's warm spare.
  const warmSpare = seededRandom(seed ^ 0x68e31da4)() < 0.5;
  // And for busy threads: half the schedules have PCs whose captures, syncs and loads block their thread.
  const threadRandom = seededRandom(seed ^ 0x7f4a7c15);
  const blockMs = threadRandom() < 0.5 ? Math.floor(threadRandom() * (MAX_BLOCK_MS + 1)) : 0;
  // Likewise: a spare PC takes a while to start, so a re-protection may find it still starting;
  // and a survivor a while to read the booted snapshot again before it leads a new pair.
  const bootRandom = seededRandom(seed ^ 0x1b873593);
  /** 0 to 500 ms, exactly 0 a fifth of the time. */
  const startupMs = () => (bootRandom() < 0.2 ? 0 : Math.floor(bootRandom() * (MAX_STARTUP_MS + 1)));
  const guests = Array.from({ length: 6 }, () => ({
    // Slow writers split most lines at a stop; fast ones keep the simulation quick.
    bytesPerTick: pick(random, [1, 2, 4, 8, 16, 32]),
    clockSkewMs: Math.floor(random() * 1000),
    refuseLoads,
    stopMs: Math.floor(random() * 4),
    loadMs: slowLoads ? Math.floor(random() * MAX_LOAD_MS) : 0,
    ...(shortLogs ? { inputLogBytes: 24 + Math.floor(random() * 40) } : {}),
    tracksWrites,
    bootMs: startupMs(),
    leadDelayMs: startupMs(),
    ...(blockMs > 0 ? { blockMs } : {}),
  }));
  const actions: TimedAction[] = [];
  const at = () => Math.floor(30 + random() * (DURATION_MS - 150));
  let last: number | undefined;
  for (let i = 1 + Math.floor(random() * MAX_INCIDENTS); i > 0; i--) {
    const when: number = last !== undefined && random() < 0.15 ? last : at();
    actions.push({ at: when, ...actionOf(pick(random, INCIDENTS), random) });
    last = when;
  }
  for (let i = Math.floor(random() * 5); i > 0; i--) {
    const action = actionOf(pick(random, SWITCHES), random);
    const when = at();
    actions.push({ at: when, ...action });
    // Step mode comes with a few clicks of Step, some time apart.
    if (action.kind === 'step-mode')
      for (let k = 1 + Math.floor(random() * 6); k > 0; k--) actions.push({ at: when + Math.floor(random() * 300), kind: 'step' });
  }
  actions.sort((a, b) => a.at - b.at);
  const compare = random() < 0.4;
  return {
    seed,
    durationMs: DURATION_MS,
    plan,
    periodMs: 10 + Math.floor(random() * 190),
    // From the seed itself, so every mode is reached evenly.
    mode: CHECKPOINT_MODES[seed % CHECKPOINT_MODES.length] ?? 'strict',
    compare,
    outputCommit: 'hold',
    autoReprotect: random() < 0.3,
    warmSpare,
    guests,
    operations: compare || random() < 0.5 ? { add: 6, get: 2, rand: 1, time: 1 } : { add: 8, get: 2, rand: 0, time: 0 },
    actions,
  };
}
