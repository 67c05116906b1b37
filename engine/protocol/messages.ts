// COLO's checkpoint messages, named exactly as QEMU's COLOMessage enum, plus the
// heartbeat this project adds (QEMU leaves failure detection to an outside tool).

export const COLO_MESSAGE_TYPES = [
  'checkpoint-ready',
  'checkpoint-request',
  'checkpoint-reply',
  'vmstate-send',
  'vmstate-size',
  'vmstate-received',
  'vmstate-loaded',
] as const;

export type ColoMessageType = (typeof COLO_MESSAGE_TYPES)[number];

/** What `vmstate-size` announces about the bytes that travel with it. */
export interface VmstateHeader {
  bytes: number;
  checksum: number;
  /** How far the primary's guest had read its client's input at capture (see replayClientInput). */
  inputAt?: number;
}

export type ColoMessage =
  | { type: 'checkpoint-ready' }
  | { type: 'checkpoint-request'; checkpoint: number }
  | { type: 'checkpoint-reply'; checkpoint: number }
  | { type: 'vmstate-send'; checkpoint: number }
  | { type: 'vmstate-size'; checkpoint: number; header: VmstateHeader }
  | { type: 'vmstate-received'; checkpoint: number }
  | { type: 'vmstate-loaded'; checkpoint: number };

export interface Heartbeat {
  type: 'heartbeat';
  sequence: number;
}

/** A side leaving COLO on an error tells its peer, as QEMU's closed socket would. */
export interface ColoExit {
  type: 'colo-exit';
  detail: string;
}

/**
 * Compare mode (COLO's colo-compare): the secondary's client output, sent to
 * the primary to be compared with its own, line by line.
 */
export interface SvmOutput {
  type: 'svm-output';
  lines: string[];
}

export type WireMessage = ColoMessage | Heartbeat | ColoExit | SvmOutput;

export type Side = 'primary' | 'secondary';

export function isColoMessageType(value: unknown): value is ColoMessageType {
  return typeof value === 'string' && (COLO_MESSAGE_TYPES as readonly string[]).includes(value);
}

/** Checks the shape of anything that arrives on the wire; the peer is not trusted. */
export function parseWireMessage(data: unknown): WireMessage | { error: string } {
  if (typeof data !== 'object' || data === null) return { error: `not a message: ${String(data)}` };
  const m = data as Record<string, unknown>;
  if (m.type === 'heartbeat') {
    return typeof m.sequence === 'number' ? { type: 'heartbeat', sequence: m.sequence } : { error: 'heartbeat without sequence' };
  }
  if (m.type === 'svm-output') {
    return Array.isArray(m.lines) && m.lines.every((l) => typeof l === 'string') ? { type: 'svm-output', lines: m.lines as string[] } : { error: 'svm-output without lines' };
  }
  if (m.type === 'colo-exit') {
    return typeof m.detail === 'string' ? { type: 'colo-exit', detail: m.detail } : { error: 'colo-exit without detail' };
  }
  if (!isColoMessageType(m.type)) return { error: `unknown message type ${JSON.stringify(m.type)}` };
  if (m.type === 'checkpoint-ready') return { type: m.type };
  if (typeof m.checkpoint !== 'number' || !Number.isInteger(m.checkpoint) || m.checkpoint < 0) {
    return { error: `${m.type} without a valid checkpoint number` };
  }
  if (m.type === 'vmstate-size') {
    const h = m.header as Record<string, unknown> | undefined;
    if (!h || typeof h.bytes !== 'number' || typeof h.checksum !== 'number') {
      return { error: 'vmstate-size without a valid header' };
    }
    const inputAt = typeof h.inputAt === 'number' && Number.isInteger(h.inputAt) && h.inputAt >= 0 ? { inputAt: h.inputAt } : {};
    return { type: m.type, checkpoint: m.checkpoint, header: { bytes: h.bytes, checksum: h.checksum, ...inputAt } };
  }
  return { type: m.type, checkpoint: m.checkpoint };
}
