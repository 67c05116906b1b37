// The host side of a replicated pair: two VM workers joined by a
// MessageChannel over which they run COLO themselves. The host starts them,
// relays commands, keeps the merged trace, routes the client to whichever VM
// is primary, and fences an old primary once the secondary has taken over.
import { LedgerClient } from './ledger-client.ts';
import type { ReplicationConfig } from '../replication/config.ts';
import type { ReplicationEvent, ReplicationStatus } from '../replication/events.ts';
import type { GateConfig } from '../replication/link.ts';
import { realClock } from '../replication/ports.ts';
import type { Side } from '../protocol/messages.ts';
import type { HostAction, TraceEvent } from '../protocol/trace.ts';
import type { VmHandle } from '../worker/vm-handle.ts';

/**
 * Sees every message between the two workers and returns what to deliver in
 * its place: the message itself, an altered copy, nothing, or more. For
 * fault-injection tests; without it the workers talk over one MessageChannel.
 */
export type WireTap = (from: Side, message: WireData) => WireData[];
export type WireData = Record<string, unknown> & { payload?: ArrayBuffer };

export interface ClusterOptions {
  spawn: () => VmHandle;
  assetBase: string;
  replication: ReplicationConfig;
  wireTap?: WireTap;
}

type Listener = () => void;

export class ColoCluster {
  /** Every protocol event of both sides and the host, in time order. */
  readonly trace: TraceEvent[] = [];
  readonly client: LedgerClient;
  /** Latest status reported by each side's worker. */
  readonly status: Partial<Record<Side, ReplicationStatus>> = {};
  primary: VmHandle | undefined;
  secondary: VmHandle | undefined;
  /** Which worker serves the client: the original primary, or the secondary after takeover. */
  serving: Side = 'primary';
  private readonly listeners = new Set<Listener>();
  private readonly releasedListeners = new Set<(side: Side, lines: string[]) => void>();
  private relayPorts: MessagePort[] = [];

  constructor(private readonly options: ClusterOptions) {
    this.client = new LedgerClient((line) => this.sendToPrimary(line), realClock.now);
  }

  /** Starts the primary from the booted snapshot and a secondary in standby, then replication. */
  async start(): Promise<void> {
    const { spawn, assetBase, replication } = this.options;
    this.primary = spawn();
    this.secondary = spawn();
    this.host('start', 'primary from the booted snapshot, secondary in standby');
    try {
      await Promise.all([
        this.primary.start({ mode: 'snapshot', assetBase }),
        this.secondary.start({ mode: 'standby', assetBase }),
      ]);
      const { primaryPort, secondaryPort, relayPorts } = this.options.wireTap ? tappedChannel(this.options.wireTap) : directChannel();
      this.relayPorts = relayPorts;
      await this.primary.startReplication('primary', primaryPort, replication, (events) => this.onEvents('primary', events));
      await this.secondary.startReplication('secondary', secondaryPort, replication, (events) => this.onEvents('secondary', events));
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** Resolves when `predicate` holds, checked after every event; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (!predicate()) return;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`cluster: not ${what} within ${timeoutMs} ms (last trace: ${JSON.stringify(this.trace.slice(-3))})`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  /** The secondary holds a whole checkpoint: failover now loses nothing a client saw. */
  get protected(): boolean {
    const p = this.status.primary;
    return this.serving === 'primary' && p !== undefined && p.exitReason === 'none' && p.committed >= 1 && !!this.secondary?.alive;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReleased(listener: (side: Side, lines: string[]) => void): () => void {
    this.releasedListeners.add(listener);
    return () => this.releasedListeners.delete(listener);
  }

  checkpointNow(): void {
    void this.primary?.replication.checkpointNow();
  }

  setPeriod(ms: number): void {
    void this.primary?.replication.setPeriod(ms);
  }

  setGate(side: Side, gate: GateConfig): Promise<void> {
    const vm = side === 'primary' ? this.primary : this.secondary;
    return vm ? vm.replication.setGate(gate) : Promise.resolve();
  }

  /** Releases one held protocol message, from whichever side holds one. */
  async step(): Promise<boolean> {
    for (const vm of [this.primary, this.secondary]) {
      if (vm?.alive && (await vm.replication.step())) return true;
    }
    return false;
  }

  /** QEMU's x-colo-lost-heartbeat on the secondary: take over now. */
  failover(): void {
    this.host('failover-command', 'x-colo-lost-heartbeat sent to the secondary');
    void this.secondary?.replication.lostHeartbeat();
  }

  killPrimary(): void {
    if (!this.primary?.alive) return;
    this.host('kill-primary', 'primary worker terminated');
    this.primary.terminate();
  }

  killSecondary(): void {
    if (!this.secondary?.alive) return;
    this.host('kill-secondary', 'secondary worker terminated');
    this.secondary.terminate();
  }

  dispose(): void {
    this.primary?.terminate();
    this.secondary?.terminate();
    for (const port of this.relayPorts) port.close();
    this.listeners.clear();
    this.releasedListeners.clear();
  }

  private sendToPrimary(line: string): void {
    const vm = this.serving === 'primary' ? this.primary : this.secondary;
    if (vm?.alive) void vm.machine.sendSerial(1, line).catch(() => {});
  }

  private onEvents(side: Side, events: ReplicationEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'trace':
          this.record(event.event);
          break;
        case 'status':
          this.onStatus(side, event.status);
          break;
        case 'released':
          // Only the serving VM speaks for the service; a fenced one is not heard.
          if (side !== this.serving) break;
          for (const line of event.lines) this.client.onReleasedLine(line);
          for (const listener of this.releasedListeners) listener(side, event.lines);
          break;
      }
    }
    for (const listener of [...this.listeners]) listener();
  }

  private onStatus(side: Side, status: ReplicationStatus): void {
    const wasProtected = this.protected;
    this.status[side] = status;
    if (!wasProtected && this.protected) this.host('protected', `secondary holds checkpoint ${status.committed}`);
    if (side === 'secondary' && status.role === 'primary' && this.serving === 'primary') {
      this.serving = 'secondary';
      // Fencing: the old primary must never speak again, even if it was only frozen.
      if (this.primary?.alive) {
        this.host('fence', 'old primary terminated after takeover');
        this.primary.terminate();
      }
      this.host('primary-changed', `secondary took over from checkpoint ${status.committed}`);
      this.client.retry();
    }
  }

  private host(action: HostAction, detail: string): void {
    this.record({ kind: 'host', time: realClock.now(), action, detail });
  }

  // Batches from the two workers interleave; events are kept in time order.
  private record(event: TraceEvent): void {
    let at = this.trace.length;
    while (at > 0 && (this.trace[at - 1]?.time ?? 0) > event.time) at--;
    this.trace.splice(at, 0, event);
  }
}

interface Wiring {
  primaryPort: MessagePort;
  secondaryPort: MessagePort;
  /** Ports the host itself keeps (only when it relays). */
  relayPorts: MessagePort[];
}

function directChannel(): Wiring {
  const channel = new MessageChannel();
  return { primaryPort: channel.port1, secondaryPort: channel.port2, relayPorts: [] };
}

// Two channels with the host in the middle, relaying through the tap.
function tappedChannel(tap: WireTap): Wiring {
  const toPrimary = new MessageChannel();
  const toSecondary = new MessageChannel();
  const relay = (from: Side, into: MessagePort) => (event: MessageEvent) => {
    for (const out of tap(from, event.data as WireData)) into.postMessage(out, out.payload ? [out.payload] : []);
  };
  toPrimary.port2.onmessage = relay('primary', toSecondary.port2);
  toSecondary.port2.onmessage = relay('secondary', toPrimary.port2);
  return { primaryPort: toPrimary.port1, secondaryPort: toSecondary.port1, relayPorts: [toPrimary.port2, toSecondary.port2] };
}
