// One side's end of the replication channel: heartbeats both ways, checked
// parsing of whatever arrives, a trace line for every protocol message, and the
// gate that holds messages for step mode and breakpoints. Heartbeats and
// colo-exit never wait at the gate, so a held handshake is not a dead peer.
// A silent peer is only suspected: the side reports it to the host, which
// checks and decides (see engine/host/host-core.ts), and reports it again
// after every further missLimit beats of silence, so the host decides afresh
// on what has changed since (a peer that answered it may hang next). Where
// the platform says the other end of the channel is gone (a port's 'close',
// when the peer's worker ended), that is reported at once: the heartbeat
// remains the detector of a peer that hangs, or of a platform that does not say.
import { HeartbeatMonitor, type HeartbeatConfig } from '../protocol/heartbeat.ts';
import { parseWireMessage, SENDER, type ColoMessage, type ColoMessageType, type Side } from '../protocol/messages.ts';
import type { TraceEvent } from '../protocol/trace.ts';
import { OPEN_GATE, type GateConfig } from './config.ts';
import type { HeartbeatGaps } from './events.ts';
import type { Clock, PeerPort } from './ports.ts';

export interface LinkHandlers {
  onMessage(message: ColoMessage, payload: ArrayBuffer | undefined): void;
  onPeerExit(detail: string): void;
  onProtocolError(error: string): void;
  /** The peer has been silent for `silentMs` beyond any busy time it announced: reported again after each further missLimit beats of silence. */
  onPeerSilent(detail: string, silentMs: number): void;
  /** Compare mode, on the primary: the secondary's client output from its run since checkpoint `from`. */
  onSvmOutput(lines: string[], from: number): void;
  /** When the latest heartbeats left, every BEATS_PER_REPORT of them. */
  onHeartbeatsSent(times: number[]): void;
}

/** Heartbeat times are reported in batches: a handful of reports a second, not one message per beat. */
const BEATS_PER_REPORT = 10;

interface Outgoing {
  message: ColoMessage;
  payload: ArrayBuffer | undefined;
}

export class Link {
  private readonly peer: Side;
  private readonly monitor: HeartbeatMonitor;
  private readonly stopBeats: () => void;
  private readonly listener = (event: MessageEvent) => this.receive(event.data);
  private readonly closeListener = () => this.peerGone();
  private gate: GateConfig = OPEN_GATE;
  private readonly held: Outgoing[] = [];
  private sequence = 0;
  private closed = false;
  private ended = false;
  private portClosed = false;
  /** Simulated faults: a hung side sends and reads nothing; a cut link carries nothing. */
  private frozen = false;
  private cut = false;
  private delayQueue: Promise<void> = Promise.resolve();
  private lastBeatAt: number | undefined;
  private beatsSent: number[] = [];
  private longestBeatGapMs = 0;
  /** Sections of work that block this thread, begun and not yet ended, and the longest busy time they announced (see beginBusy). */
  private busySections = 0;
  private announcedMs = 0;

  constructor(
    private readonly side: Side,
    private readonly port: PeerPort,
    private readonly clock: Clock,
    private readonly heartbeat: HeartbeatConfig,
    private readonly handlers: LinkHandlers,
    private readonly trace: (event: TraceEvent) => void,
  ) {
    this.peer = side === 'primary' ? 'secondary' : 'primary';
    this.monitor = new HeartbeatMonitor(heartbeat, clock.now());
    port.addEventListener('message', this.listener);
    port.addEventListener('close', this.closeListener);
    port.start();
    this.stopBeats = clock.every(heartbeat.intervalMs, () => this.beat());
  }

  send(message: ColoMessage, payload?: ArrayBuffer): void {
    if (this.closed || this.ended) return;
    const outgoing = { message, payload };
    if (this.held.length > 0 || this.gate.step || this.gate.breakBefore.includes(message.type)) {
      this.held.push(outgoing);
      this.trace({ kind: 'held', time: this.clock.now(), side: this.side, type: message.type, ...numberOf(message) });
      return;
    }
    this.post(outgoing);
  }

  /**
   * Compare mode, on the secondary: its client output from its run since
   * checkpoint `from`, for the primary to compare; bypasses the gate like heartbeats.
   */
  sendOutput(lines: string[], from: number): void {
    if (this.closed || this.ended || this.frozen || this.cut) return;
    this.port.postMessage({ type: 'svm-output', lines, from }, []);
  }

  /** Tells the peer this side left COLO; bypasses the gate. */
  sendExit(detail: string): void {
    if (this.closed || this.ended || this.frozen || this.cut) return;
    this.port.postMessage({ type: 'colo-exit', detail }, []);
    this.trace({ kind: 'message', time: this.clock.now(), from: this.side, to: this.peer, at: 'sent', type: 'colo-exit' });
  }

  setGate(gate: GateConfig): void {
    this.gate = gate;
    if (!gate.step) this.releaseUnblocked();
  }

  /** Releases the oldest held message; false if none was held. */
  step(): boolean {
    const next = this.held.shift();
    if (!next) return false;
    this.post(next);
    return true;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** This side hangs: no heartbeats leave, nothing is read. */
  freeze(): void {
    this.frozen = true;
  }

  /** The channel stops carrying anything, both ways, as a network partition would. */
  cutLink(): void {
    this.cut = true;
  }

  /**
   * COLO has ended on this side: nothing more is sent, no heartbeat either,
   * and whatever still arrives is named in the trace and otherwise ignored.
   */
  end(): void {
    this.ended = true;
    this.stopBeats();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopBeats();
    this.port.removeEventListener('message', this.listener);
    this.port.removeEventListener('close', this.closeListener);
    this.port.close();
  }

  private releaseUnblocked(): void {
    while (this.held.length > 0 && !this.gate.breakBefore.includes(this.held[0]?.message.type as ColoMessageType)) this.step();
  }

  private post(outgoing: Outgoing): void {
    const delay = this.gate.delayMs ?? 0;
    if (delay <= 0) {
      this.postNow(outgoing);
      return;
    }
    // Delayed messages keep their order.
    this.delayQueue = this.delayQueue.then(() => new Promise<void>((resolve) => this.clock.after(delay, () => (this.postNow(outgoing), resolve()))));
  }

  private postNow({ message, payload }: Outgoing): void {
    if (this.closed || this.frozen || this.cut) return;
    // Stamped before posting: the transfer detaches the payload, and the peer may stamp its receipt at once.
    const sent: TraceEvent = {
      kind: 'message',
      time: this.clock.now(),
      from: this.side,
      to: this.peer,
      at: 'sent',
      type: message.type,
      ...numberOf(message),
      // The state's size, not its buffer's: a reused buffer can be larger, and the
      // one handed back with vmstate-loaded carries nothing.
      ...(message.type === 'vmstate-size' ? { bytes: message.header.bytes } : {}),
    };
    this.port.postMessage(payload ? { ...message, payload } : message, payload ? [payload] : []);
    this.trace(sent);
  }

  /**
   * This side is about to block its thread, now and perhaps again before the
   * returned function is called (a capture, a check and load, the first
   * checkpoint's preparation): a heartbeat says so at once, and so does every
   * heartbeat until then, so that the peer allows a silence after each of
   * them `busyMs` longer (see HeartbeatMonitor; a whole state takes longer
   * than a delta: busyMsFor).
   */
  beginBusy(busyMs = this.heartbeat.busyMs): () => void {
    this.busySections += 1;
    this.announcedMs = Math.max(this.announcedMs, busyMs);
    if (!this.ended) this.sendBeat(this.clock.now());
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.busySections -= 1;
      if (this.busySections === 0) this.announcedMs = 0;
    };
  }

  /** `work`, which blocks this thread, announced as beginBusy does, and ended with it. */
  whileBusy<T>(work: () => T, busyMs = this.heartbeat.busyMs): T {
    const done = this.beginBusy(busyMs);
    try {
      return work();
    } finally {
      done();
    }
  }

  /** Heartbeat gaps seen so far (see ReplicationStatus.heartbeatGaps). */
  get gaps(): HeartbeatGaps {
    return { peerSilenceMs: this.monitor.longestSilenceMs, ownBeatGapMs: this.longestBeatGapMs };
  }

  private beat(): void {
    if (this.closed || this.frozen) return;
    const now = this.clock.now();
    if (this.lastBeatAt !== undefined) this.longestBeatGapMs = Math.max(this.longestBeatGapMs, now - this.lastBeatAt);
    this.lastBeatAt = now;
    this.sendBeat(now);
    if (this.monitor.beat()) {
      this.monitor.rearm();
      // The host judges the silence beyond what the peer announced: a long busy step it said it was in is no silence of the link.
      const announced = this.monitor.announcedBusyMs;
      const silentMs = this.monitor.silentMs(now);
      this.handlers.onPeerSilent(
        `no message from the ${this.peer} for ${Math.round(silentMs)} ms (${this.heartbeat.missLimit} heartbeats of ${this.heartbeat.intervalMs} ms` +
          (announced > 0 ? `, after it said it would be busy for up to ${Math.round(announced)} ms` : '') +
          ')',
        this.monitor.overdueMs(now),
      );
    }
  }

  private sendBeat(now: number): void {
    if (this.closed || this.frozen || this.cut) return;
    const busy = this.busySections > 0 ? { busyMs: this.announcedMs } : {};
    this.port.postMessage({ type: 'heartbeat', sequence: ++this.sequence, ...busy }, []);
    this.beatsSent.push(now);
    if (this.beatsSent.length >= BEATS_PER_REPORT) {
      this.handlers.onHeartbeatsSent(this.beatsSent);
      this.beatsSent = [];
    }
  }

  private peerGone(): void {
    if (this.closed || this.ended || this.frozen || this.cut || this.portClosed) return;
    this.portClosed = true;
    const silentMs = this.monitor.silentMs(this.clock.now());
    this.handlers.onPeerSilent(
      `the ${this.peer}'s end of the channel closed: its worker is gone (${Math.round(silentMs)} ms after its last message)`,
      silentMs,
    );
  }

  private receive(data: unknown): void {
    if (this.closed || this.frozen || this.cut) return;
    const parsed = parseWireMessage(data);
    // Anything from the peer is a sign of life, a malformed message too.
    this.monitor.heard(this.clock.now(), 'busyMs' in parsed ? (parsed.busyMs ?? 0) : 0);
    if ('error' in parsed) {
      if (this.ended) return;
      this.trace({ kind: 'error', time: this.clock.now(), side: this.side, detail: `from ${this.peer}: ${parsed.error}` });
      this.handlers.onProtocolError(`malformed message from the ${this.peer}: ${parsed.error}`);
      return;
    }
    if (parsed.type === 'heartbeat') return;
    if (parsed.type !== 'colo-exit' && SENDER[parsed.type] !== this.peer) {
      if (this.ended) return;
      const detail = `${parsed.type} from the ${this.peer}: only the ${SENDER[parsed.type]} sends it`;
      this.trace({ kind: 'error', time: this.clock.now(), side: this.side, detail });
      this.handlers.onProtocolError(detail);
      return;
    }
    if (parsed.type === 'svm-output') {
      if (!this.ended) this.handlers.onSvmOutput(parsed.lines, parsed.from);
      return;
    }
    if (this.ended) {
      this.trace({ kind: 'error', time: this.clock.now(), side: this.side, detail: `${parsed.type} from the ${this.peer} after COLO ended here: ignored` });
      return;
    }
    const payload = (data as { payload?: unknown }).payload;
    const buffer = payload instanceof ArrayBuffer ? payload : undefined;
    this.trace({
      kind: 'message',
      time: this.clock.now(),
      from: this.peer,
      to: this.side,
      at: 'received',
      type: parsed.type,
      ...(parsed.type === 'colo-exit' ? {} : numberOf(parsed)),
      // What arrived of the state: a reused buffer's spare room is not part of it.
      ...(parsed.type === 'vmstate-size' && buffer ? { bytes: Math.min(buffer.byteLength, parsed.header.bytes) } : {}),
    });
    if (parsed.type === 'colo-exit') this.handlers.onPeerExit(parsed.detail);
    else this.handlers.onMessage(parsed, buffer);
  }
}

function numberOf(message: ColoMessage): { checkpoint?: number } {
  return 'checkpoint' in message ? { checkpoint: message.checkpoint } : {};
}
