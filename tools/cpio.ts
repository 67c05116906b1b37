// Writes a "newc" cpio archive, the format the Linux kernel unpacks as an
// initramfs. Entries get fixed owners and times so the build is reproducible.

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}

function record(ino: number, mode: number, name: string, data: Uint8Array, rdev: [number, number] = [0, 0]): Uint8Array[] {
  const nameBytes = new TextEncoder().encode(name + '\0');
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const header = new TextEncoder().encode('070701' + fields.map(hex8).join(''));
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  entries.forEach((entry, index) => {
    const ino = index + 1;
    switch (entry.kind) {
      case 'dir':
        parts.push(...record(ino, S_IFDIR | (entry.mode ?? 0o755), entry.path, new Uint8Array(0)));
        break;
      case 'file':
        parts.push(...record(ino, S_IFREG | (entry.mode ?? 0o644), entry.path, entry.data));
        break;
      case 'symlink':
        parts.push(...record(ino, S_IFLNK | 0o777, entry.path, new TextEncoder().encode(entry.target)));
        break;
      case 'chardev':
        parts.push(...record(ino, S_IFCHR | (entry.mode ?? 0o600), entry.path, new Uint8Array(0), [entry.major, entry.minor]));
        break;
    }
  });
  parts.push(...record(0, 0, 'TRAILER!!!', new Uint8Array(0)));
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
