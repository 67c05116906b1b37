// Altering a delta on the wire the way a bug or an attacker could, and
// sealing it again (checksum recomputed), so that it is the check under test
// that refuses it, not the checksum.
import { checksumJs } from '../../engine/checkpoint/kernels-js.ts';
import { CHECKSUM_SEED, foldChecksum } from '../../engine/checkpoint/kernels.ts';
import { checkDelta, deltaLayout, type DeltaHeader, type DeltaLayout } from '../../engine/checkpoint/delta-format.ts';

/** The header and layout of a delta that arrived as `checkpoint` on a secondary holding `checkpoint - 1`. */
export function readDelta(
  payload: ArrayBuffer,
  bytes: number,
  machine: { ramBytes: number; diskBytes: number },
  checkpoint: number,
): DeltaHeader & { layout: DeltaLayout } {
  const header = checkDelta(payload, { announced: bytes, ...machine, holds: checkpoint - 1, checkpoint });
  if ('error' in header) throw new Error(`not a valid delta to alter: ${header.error}`);
  return { ...header, layout: deltaLayout(header) };
}

/** Recomputes the checksum of the delta's first `bytes` bytes, writes it into its header, and returns it (for vmstate-size). */
export function reseal(payload: ArrayBuffer, bytes: number): number {
  const copy = new Uint8Array(bytes + 16);
  copy.set(new Uint8Array(payload, 0, bytes), 16);
  const lanes = new Uint32Array(copy.buffer, 0, 4);
  lanes.fill(CHECKSUM_SEED);
  checksumJs(copy, 32, bytes - 16, 0);
  const sum = foldChecksum(lanes, bytes);
  new DataView(payload).setUint32(12, sum, true);
  return sum;
}

/** Replaces the device state's JSON with `json`, padded with spaces to the same length. */
export function replaceDeviceJson(payload: ArrayBuffer, header: DeltaHeader & { layout: DeltaLayout }, json: string): void {
  const encoded = new TextEncoder().encode(json);
  if (encoded.length > header.jsonBytes) throw new Error(`replacement JSON of ${encoded.length} bytes does not fit in ${header.jsonBytes}`);
  const target = new Uint8Array(payload, header.layout.jsonOffset, header.jsonBytes);
  target.fill(0x20);
  target.set(encoded);
}
