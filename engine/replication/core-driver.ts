// What the primary's and the secondary's drivers share: the link to the peer,
// whose events become inputs of the side's core, the controls that only
// concern the link, and the way trace events leave the worker.
import type { ColoMessage, Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';
import type { ReplicationConfig } from './config.ts';
import type { DriverEvent } from './events.ts';
import type { GateConfig } from './config.ts';
import { Link } from './link.ts';
import type { Clock, PeerPort } from './ports.ts';

/** Inputs both cores take from the link and the operator. */
export type LinkInput =
  { kind: 'peer-exited'; detail: string } | { kind: 'protocol-error'; error: string } | { kind: 'peer-lost'; detail: string } | { kind: 'lost-heartbeat' };

export abstract class CoreDriver {
  protected readonly link: Link;
  /** The busy time this side announces before it blocks its thread for a step (longer for a big state: busyMsFor). */
  protected readonly busyMs: number;

  constructor(
    side: Side,
    port: PeerPort,
    protected readonly clock: Clock,
    config: ReplicationConfig,
    protected readonly emit: (event: DriverEvent) => void,
  ) {
    this.link = new Link(
      side,
      port,
      clock,
      config.heartbeat,
      {
        onMessage: (message, payload) => this.onMessage(message, payload),
        onPeerExit: (detail) => this.input({ kind: 'peer-exited', detail }),
        onProtocolError: (error) => this.input({ kind: 'protocol-error', error }),
        onPeerSilent: (detail, silentMs) => this.emit({ type: 'peer-silent', detail, silentMs }),
        onSvmOutput: (lines, from) => this.onSvmOutput(lines, from),
        onHeartbeatsSent: (sent) => this.emit({ type: 'heartbeats', sent }),
      },
      (event) => this.trace(event),
    );
    this.link.setGate(config.gate);
    this.busyMs = config.heartbeat.busyMs;
  }

  protected abstract onMessage(message: ColoMessage, payload: ArrayBuffer | undefined): void;
  protected abstract input(input: LinkInput): void;

  /** Compare mode: the secondary's client output arrived (only the primary uses it). */
  protected onSvmOutput(lines: string[], from: number): void {
    void lines;
    void from;
  }

  /** The host confirmed this side's suspicion: its peer (or the link) failed. */
  peerLost(detail: string): void {
    this.input({ kind: 'peer-lost', detail });
  }

  /** QEMU's x-colo-lost-heartbeat. */
  lostHeartbeat(): void {
    this.input({ kind: 'lost-heartbeat' });
  }

  setGate(gate: GateConfig): void {
    this.link.setGate(gate);
  }

  /** Releases one message held at the gate; false if none was held. */
  step(): boolean {
    return this.link.step();
  }

  cutLink(): void {
    this.link.cutLink();
  }

  protected trace(event: TraceEvent): void {
    this.emit({ type: 'trace', event });
  }
}
