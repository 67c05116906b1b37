// A 32-bit checksum of a vmstate buffer (FNV-1a over 32-bit words), enough to
// catch corruption and truncation in transfer; not a defence against an attacker.

export function checksum32(buffer: ArrayBuffer): number {
  const words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ (words[i] as number), 0x01000193);
  }
  const tail = new Uint8Array(buffer, words.length << 2);
  for (let i = 0; i < tail.length; i++) {
    h = Math.imul(h ^ (tail[i] as number), 0x01000193);
  }
  return Math.imul(h ^ buffer.byteLength, 0x01000193) >>> 0;
}

/**
 * The checksum of a whole state sent as checkpoint `checkpoint`. A full state
 * does not say which checkpoint it is: bound into its checksum, the number
 * makes a replayed older state fail the check like a corrupt one.
 */
export function stateChecksum(buffer: ArrayBuffer, checkpoint: number): number {
  return Math.imul(checksum32(buffer) ^ checkpoint, 0x01000193) >>> 0;
}
