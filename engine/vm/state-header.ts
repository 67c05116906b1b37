// Reads the header and info block of a v86 state (format version 6) without
// loading it, so a state from another v86 version or another machine size is
// refused with a clear message instead of corrupting the VM.
//   0: magic 0x86768676 | 4: format version | 8: total bytes | 12: info length
//   16: JSON info { state: [cpu fields…], buffer_infos } | 4-aligned buffers

export const V86_STATE_MAGIC = 0x86768676;
export const V86_STATE_FORMAT_VERSION = 6;
const HEADER_BYTES = 16;
const CPU_MEMORY_SIZE_FIELD = 0;

export class StateError extends Error {
  override name = 'StateError';
}

export interface StateSummary {
  formatVersion: number;
  totalBytes: number;
  memoryBytes: number;
}

export function readStateSummary(state: ArrayBuffer): StateSummary {
  if (state.byteLength < HEADER_BYTES) {
    throw new StateError(`state: truncated, ${state.byteLength} bytes is less than the 16-byte header`);
  }
  const header = new DataView(state, 0, HEADER_BYTES);
  const magic = header.getUint32(0, true);
  if (magic !== V86_STATE_MAGIC) {
    throw new StateError(`state: not a v86 state (magic 0x${magic.toString(16)}, expected 0x${V86_STATE_MAGIC.toString(16)})`);
  }
  const formatVersion = header.getInt32(4, true);
  if (formatVersion !== V86_STATE_FORMAT_VERSION) {
    throw new StateError(
      `state: v86 state format version ${formatVersion}, this v86 reads version ${V86_STATE_FORMAT_VERSION} (saved by a different v86 version)`,
    );
  }
  const totalBytes = header.getInt32(8, true);
  if (totalBytes !== state.byteLength) {
    throw new StateError(`state: truncated or padded, header says ${totalBytes} bytes, got ${state.byteLength}`);
  }
  const infoBytes = header.getInt32(12, true);
  if (infoBytes <= 0 || HEADER_BYTES + infoBytes > state.byteLength) {
    throw new StateError(`state: corrupt, info block length ${infoBytes} does not fit in ${state.byteLength} bytes`);
  }
  let info: unknown;
  try {
    info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, HEADER_BYTES, infoBytes)));
  } catch (err) {
    throw new StateError(`state: corrupt info block (${(err as Error).message})`);
  }
  const cpu = (info as { state?: unknown }).state;
  const memoryBytes = Array.isArray(cpu) ? (cpu[CPU_MEMORY_SIZE_FIELD] as unknown) : undefined;
  if (typeof memoryBytes !== 'number') {
    throw new StateError('state: corrupt info block, no CPU memory size');
  }
  return { formatVersion, totalBytes, memoryBytes };
}

export function checkStateFits(summary: StateSummary, memoryBytes: number): void {
  if (summary.memoryBytes !== memoryBytes) {
    const mib = (n: number) => `${n / (1024 * 1024)} MiB`;
    throw new StateError(`state: saved from a VM with ${mib(summary.memoryBytes)} of memory, this VM has ${mib(memoryBytes)}`);
  }
}
