// The one description of the guest machine: asset files, memory sizes and the
// kernel command line. Every VM that exchanges state must be built from it, since
// v86 can only restore a state into an instance made with the same options.

export const GUEST_CONFIG = {
  // No .gz endings: static servers would add Content-Encoding and browsers
  // would hand over the unpacked bytes, which then fail the manifest check.
  files: {
    bios: 'seabios.bin',
    vgaBios: 'vgabios-stdvga.bin',
    kernel: 'vmlinuz',
    initrd: 'initramfs.img',
    snapshot: 'booted-state.v86gz',
  },
  // v86 puts a separate initrd at 64 MiB, so RAM must extend past 64 MiB + initrd.
  memoryBytes: 80 * 1024 * 1024,
  // Every checkpoint copies and compares the VGA memory, and the guest stays in
  // text mode: 256 KiB (v86's default is 8 MiB) leaves VESA only its small modes.
  vgaMemoryBytes: 256 * 1024,
  // The guest's disk (hda, in memory, zeros until the guest writes): the ledger's
  // journal, 16384 records. Part of v86's state (so of the snapshot and every
  // naive checkpoint); a delta carries only the pages the guest wrote.
  diskBytes: 2 * 1024 * 1024,
  // Two boot steps a VM does not need, 6 of 20 s of every boot and reboot under
  // Node: the self-tests of every crypto algorithm the kernel registers (4.5 s)
  // and the probe for ISA plug-and-play cards, of which v86 has none (0.4 s).
  cmdline: 'console=tty0 console=ttyS0 init_on_free=1 init_on_alloc=0 tsc=reliable mitigations=off cryptomgr.notests noisapnp',
} as const;

export type AssetName = (typeof GUEST_CONFIG.files)[keyof typeof GUEST_CONFIG.files];

export interface PackageRecord {
  name: string;
  version: string;
  architecture: string;
}

export interface FileRecord {
  bytes: number;
  sha256: string;
}

export interface SnapshotRecord {
  v86Version: string;
  memoryBytes: number;
  vgaMemoryBytes: number;
  /** The disk the state's VM had (its contents are in the state). */
  diskBytes: number;
  cmdline: string;
  stateBytes: number;
}

/** manifest.json's record of the write-tracking build of v86.wasm: which v86 it was made from. */
export interface TrackingRecord {
  file: string;
  v86Version: string;
  /** sha256 of the npm package's v86.wasm it rewrites. */
  sourceSha256: string;
  /** The build's size unpacked (the file is gzip). */
  bytes: number;
}

export interface AssetManifest {
  note: string;
  packages: PackageRecord[];
  licences: Record<string, string>;
  files: Record<string, FileRecord>;
  snapshot?: SnapshotRecord;
  /** The write-tracking build of v86.wasm (tools/build-tracking-wasm.ts). */
  tracking?: TrackingRecord;
}
