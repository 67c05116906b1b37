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
  inputAt: number;
  /**
   * The client output the primary's guest had written of a line it had not
   * finished at capture. It already left the VM, so it is not in the state, but
   * the rest of that line is: a VM that loads the state continues after it.
   */
  lineStart?: string;
}

/** The largest state a header may announce: 4 GiB, what a 32-bit guest can address. */
export const MAX_STATE_BYTES = 2 ** 32;
/** A started line longer than this is not the ledger's. */
export const MAX_LINE_START = 4096;

/**
 * The booted snapshot a side was built from and still holds untouched: the
 * image (its file's SHA-256) and the RAM it restored to (its checksum). A
 * primary holding the same base sends checkpoint 1 as only what differs.
 */
export interface SharedBase {
  image: string;
  ram: number;
}

export const sameBase = (a: SharedBase | undefined, b: SharedBase | undefined): boolean =>
  a !== undefined && b !== undefined && a.image === b.image && a.ram === b.ram;

export type ColoMessage =
  | { type: 'checkpoint-ready'; base?: SharedBase }
  | { type: 'checkpoint-request'; checkpoint: number }
  | { type: 'checkpoint-reply'; checkpoint: number }
  | { type: 'vmstate-send'; checkpoint: number }
  | { type: 'vmstate-size'; checkpoint: number; header: VmstateHeader }
  | { type: 'vmstate-received'; checkpoint: number }
  | { type: 'vmstate-loaded'; checkpoint: number };

export interface Heartbeat {
  type: 'heartbeat';
  sequence: number;
  /**
   * The sender is about to block its only thread (capture, load, the first
   * checkpoint's preparation) for up to this long: its silence until its next
   * message counts only after that.
   */
  busyMs?: number;
}

/** The longest busy time a peer may announce; more is refused as malformed (it would blind the detector). */
export const MAX_BUSY_MS = 60_000;

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
  /**
   * The checkpoint the secondary's run started from. A line can only vouch for
   * a primary line of the epoch that checkpoint opened; anything a run wrote
   * before a later load was rolled back with it.
   */
  from: number;
}

export type WireMessage = ColoMessage | Heartbeat | ColoExit | SvmOutput;

export type Side = 'primary' | 'secondary';

/** Who sends each message: one that arrives from the other side is not a protocol message, whatever it says. */
export const SENDER: Record<ColoMessageType | SvmOutput['type'], Side> = {
  'checkpoint-ready': 'secondary',
  'checkpoint-request': 'primary',
  'checkpoint-reply': 'secondary',
  'vmstate-send': 'primary',
  'vmstate-size': 'primary',
  'vmstate-received': 'secondary',
  'vmstate-loaded': 'secondary',
  'svm-output': 'secondary',
};

export function isColoMessageType(value: unknown): value is ColoMessageType {
  return typeof value === 'string' && (COLO_MESSAGE_TYPES as readonly string[]).includes(value);
}

/** Checks the shape of anything that arrives on the wire; the peer is not trusted. */
export function parseWireMessage(data: unknown): WireMessage | { error: string } {
  if (typeof data !== 'object' || data === null) return { error: `not a message: ${String(data)}` };
  const m = data as Record<string, unknown>;
  if (m.type === 'heartbeat') {
    if (typeof m.sequence !== 'number') return { error: 'heartbeat without sequence' };
    if (m.busyMs === undefined) return { type: 'heartbeat', sequence: m.sequence };
    if (typeof m.busyMs !== 'number' || !(m.busyMs >= 0 && m.busyMs <= MAX_BUSY_MS))
      return { error: `heartbeat announcing a busy time of ${String(m.busyMs)} ms (0 to ${MAX_BUSY_MS} allowed)` };
    return { type: 'heartbeat', sequence: m.sequence, busyMs: m.busyMs };
  }
  if (m.type === 'svm-output') {
    if (!Array.isArray(m.lines) || !m.lines.every((l) => typeof l === 'string')) return { error: 'svm-output without lines' };
    if (!isCount(m.from)) return { error: 'svm-output without the checkpoint its run started from' };
    return { type: 'svm-output', lines: m.lines as string[], from: m.from };
  }
  if (m.type === 'colo-exit') {
    return typeof m.detail === 'string' ? { type: 'colo-exit', detail: m.detail } : { error: 'colo-exit without detail' };
  }
  if (!isColoMessageType(m.type)) return { error: `unknown message type ${JSON.stringify(m.type)}` };
  if (m.type === 'checkpoint-ready') {
    if (m.base === undefined) return { type: m.type };
    const base = m.base as Record<string, unknown> | null;
    if (typeof base !== 'object' || base === null || typeof base.image !== 'string' || !/^[0-9a-f]{64}$/.test(base.image) || !isCount(base.ram)) {
      return { error: 'checkpoint-ready names a base that is not an image hash and a RAM checksum' };
    }
    return { type: m.type, base: { image: base.image, ram: base.ram } };
  }
  if (!isCount(m.checkpoint)) return { error: `${m.type} without a valid checkpoint number` };
  if (m.type === 'vmstate-size') {
    const header = parseHeader(m.header);
    return 'error' in header ? { error: `vmstate-size: ${header.error}` } : { type: m.type, checkpoint: m.checkpoint, header };
  }
  return { type: m.type, checkpoint: m.checkpoint };
}

/** A non-negative integer that fits a 32-bit count. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 32;
}

function parseHeader(data: unknown): VmstateHeader | { error: string } {
  if (typeof data !== 'object' || data === null) return { error: 'no header' };
  const h = data as Record<string, unknown>;
  if (typeof h.bytes !== 'number' || !Number.isInteger(h.bytes) || h.bytes < 0 || h.bytes > MAX_STATE_BYTES) {
    return { error: `size ${String(h.bytes)} is not a whole number of bytes from 0 to 2^32` };
  }
  if (!isCount(h.checksum)) return { error: `checksum ${String(h.checksum)} is not a 32-bit value` };
  if (typeof h.inputAt !== 'number' || !Number.isSafeInteger(h.inputAt) || h.inputAt < 0) {
    return { error: `input position ${String(h.inputAt)} is not a stream position` };
  }
  if (h.lineStart !== undefined && (typeof h.lineStart !== 'string' || h.lineStart.length > MAX_LINE_START || h.lineStart.includes('\n'))) {
    return { error: 'the started output line is not a line start' };
  }
  return {
    bytes: h.bytes,
    checksum: h.checksum,
    inputAt: h.inputAt,
    ...(h.lineStart === undefined ? {} : { lineStart: h.lineStart as string }),
  };
}
