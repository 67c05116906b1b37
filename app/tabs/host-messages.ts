// What a tab and the shared host say to each other in a two-tab run. The
// host (a SharedWorker) drives the pair; each tab shows the page from the
// host's updates, asks it to act, and runs the VM workers the host asks it
// for (a SharedWorker cannot start workers of its own in Chromium). A VM
// worker's commands and the COLO link between the two workers never pass
// through here: the host reaches each worker by a port of its own.
import type { Fate } from '../../engine/host/host-core.ts';
import type { ClientAnswer, ClientOperation, ClientReport, ClientRequest } from '../../engine/host/ledger-client.ts';
import type { SettingsChange } from '../../engine/replication/commands.ts';
import type { ReplicationConfig } from '../../engine/replication/config.ts';
import type { ReplicationStatus } from '../../engine/replication/events.ts';
import type { SerialPort } from '../../engine/vm/machine-api.ts';
import type { Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';

/** The query a tab of a two-tab run is opened with. */
export const TABS_QUERY = 'tabs';

/** One PC the host knows, by the number it gave it. */
export interface PcInfo {
  pc: number;
  name: string;
  /** The tab that runs its worker. */
  tab: number;
  alive: boolean;
}

/** The host's state a page reads; small, sent whole with every update. */
export interface HostState {
  /** The pair has started (or `startError` says why it could not). */
  started: boolean;
  startError?: string;
  status: Partial<Record<Side, ReplicationStatus>>;
  serving: Side;
  fate: Record<Side, Fate>;
  names: Record<Side, string>;
  config: ReplicationConfig;
  protected: boolean;
  canReprotect: boolean;
  serviceLost: string | undefined;
  falseFailovers: number;
  dismissedSuspicions: number;
  spare: { name: string; ready: boolean } | undefined;
  /** The PC in each role. */
  roles: Partial<Record<Side, number>>;
  pcs: PcInfo[];
  client: { summary: ClientReport; pending: ClientRequest | undefined };
  trafficAuto: boolean;
  /** A PC waits for a tab that runs no PC to open. */
  waitingForTab: boolean;
}

/** What happened since a tab's last update (everything, the first time). */
export interface HostUpdate {
  state: HostState;
  /** This tab's number (in its first update). */
  tab?: number;
  /** The first update to a tab: what follows is everything kept so far, not an addition. */
  catchUp: boolean;
  trace: TraceEvent[];
  heartbeats: { side: Side; sent: number[] }[];
  serial: { pc: number; text: string }[];
  sent: ClientRequest[];
  answers: ClientAnswer[];
}

/** What a page may ask of the host. */
export type HostAction =
  | { kind: 'configure'; change: SettingsChange; side?: Side }
  | { kind: 'set-auto-reprotect'; on: boolean }
  | { kind: 'reprotect' }
  | { kind: 'checkpoint-now' }
  | { kind: 'step' }
  | { kind: 'failover' }
  | { kind: 'kill'; side: Side }
  | { kind: 'freeze-primary' }
  | { kind: 'cut-link' }
  | { kind: 'audit' }
  | { kind: 'traffic-auto'; on: boolean }
  | { kind: 'traffic-send'; operation: ClientOperation }
  | { kind: 'send-serial'; pc: number; port: SerialPort; data: string }
  | { kind: 'read'; pc: number; what: 'instructionCount' | 'textScreen' | 'memoryUse' }
  | { kind: 'arm-reboot' }
  /** Retire the secondary: the next one starts in a tab that runs no PC yet (one the page just opened). */
  | { kind: 'move-secondary' };

export type TabMessage =
  | { type: 'join'; assetBase: string }
  | { type: 'call'; call: number; action: HostAction }
  | { type: 'spawned'; pc: number; port: MessagePort }
  | { type: 'bye' };

export type HostMessage =
  | { type: 'update'; update: HostUpdate }
  | { type: 'result'; call: number; value?: unknown; error?: string }
  /** Start a VM worker for PC `pc` and send back the port its commands go to. */
  | { type: 'spawn'; pc: number }
  /** End PC `pc`'s worker now, as a crash would. */
  | { type: 'end'; pc: number };
