// `npm run assets`: builds the guest in wasm-assets/ from Debian packages.
//   SeaBIOS + VGA BIOS, Debian's 32-bit kernel, an initramfs of busybox-static
//   plus the guest scripts in wasm-assets/guest/ and the kernel modules the
//   guest's disk needs, licences, and manifest.json.
// The booted snapshot is made afterwards by tools/make-snapshot.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { GUEST_CONFIG, type AssetManifest, type PackageRecord } from '../engine/vm/guest-config.ts';

const ASSETS_DIR = join(import.meta.dirname, '..', 'wasm-assets');

const PACKAGES = {
  bios: 'seabios',
  kernel: 'linux-image-6.1.0-50-686-unsigned:i386',
  busybox: 'busybox-static:i386',
} as const;

const GUEST_SCRIPTS = ['init', 'ledger', 'memwrite', 'burn'] as const;

/**
 * The modules for the guest's disk (v86's IDE controller, as ATA through
 * SCSI's disk driver), in the order init loads them: each after what it
 * depends on (their `depends=`; the CRC ones sd_mod's T10 protection needs
 * come with their generic implementations, which nothing would load else).
 */
const DISK_MODULES = [
  'crypto/crct10dif_common',
  'crypto/crct10dif_generic',
  'lib/crc-t10dif',
  'lib/crc64',
  'crypto/crc64_rocksoft_generic',
  'lib/crc64-rocksoft',
  'block/t10-pi',
  'drivers/scsi/scsi_common',
  'drivers/scsi/scsi_mod',
  'drivers/scsi/sd_mod',
  'drivers/ata/libata',
  'drivers/ata/ata_piix',
] as const;

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function ensureI386Lists(): void {
  const arches = run('dpkg', ['--print-foreign-architectures']);
  if (!arches.split('\n').includes('i386')) {
    run('dpkg', ['--add-architecture', 'i386']);
    run('apt-get', ['update']);
  }
  try {
    run('apt-cache', ['show', PACKAGES.kernel]);
  } catch {
    run('apt-get', ['update']);
  }
}

function download(work: string): Record<keyof typeof PACKAGES, { dir: string; record: PackageRecord }> {
  run('apt-get', ['download', ...Object.values(PACKAGES)], work);
  const debs = readdirSync(work).filter((f) => f.endsWith('.deb'));
  const out = {} as Record<keyof typeof PACKAGES, { dir: string; record: PackageRecord }>;
  for (const [key, spec] of Object.entries(PACKAGES) as [keyof typeof PACKAGES, string][]) {
    const name = spec.split(':')[0] ?? spec;
    const deb = debs.find((f) => f.startsWith(name + '_'));
    if (!deb) throw new Error(`apt-get download gave no .deb for ${spec}`);
    const dir = join(work, name);
    run('dpkg-deb', ['-x', deb, dir], work);
    const version = run('dpkg-deb', ['-f', deb, 'Version'], work).trim();
    const architecture = run('dpkg-deb', ['-f', deb, 'Architecture'], work).trim();
    out[key] = { dir, record: { name, version, architecture } };
  }
  return out;
}

function buildInitramfs(busyboxDir: string, kernelDir: string): Uint8Array {
  const guestDir = join(ASSETS_DIR, 'guest');
  const release = readdirSync(join(kernelDir, 'lib/modules'))[0] ?? 'missing';
  const moduleName = (path: string) => path.split('/').pop() ?? path;
  const entries: CpioEntry[] = [
    ...['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'root', 'etc', 'lib', 'lib/modules'].map((path): CpioEntry => ({
      kind: 'dir',
      path,
    })),
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: readFileSync(join(busyboxDir, 'bin/busybox')), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...GUEST_SCRIPTS.map((name): CpioEntry => ({
      kind: 'file',
      path: name === 'init' ? 'init' : `bin/${name}`,
      data: readFileSync(join(guestDir, name)),
      mode: 0o755,
    })),
    ...DISK_MODULES.map((path): CpioEntry => ({
      kind: 'file',
      path: `lib/modules/${moduleName(path)}.ko`,
      data: readFileSync(join(kernelDir, 'lib/modules', release, 'kernel', `${path}.ko`)),
      mode: 0o644,
    })),
    { kind: 'file', path: 'lib/modules/order', data: new TextEncoder().encode(DISK_MODULES.map(moduleName).join('\n') + '\n'), mode: 0o644 },
  ];
  return gzipSync(writeCpio(entries), { level: 9 });
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function main(): void {
  ensureI386Lists();
  const work = mkdtempSync(join(tmpdir(), 'colo-assets-'));
  try {
    const pkgs = download(work);
    const files: Record<string, Uint8Array> = {
      [GUEST_CONFIG.files.bios]: readFileSync(join(pkgs.bios.dir, 'usr/share/seabios/bios.bin')),
      [GUEST_CONFIG.files.vgaBios]: readFileSync(join(pkgs.bios.dir, 'usr/share/seabios/vgabios-stdvga.bin')),
      [GUEST_CONFIG.files.kernel]: readFileSync(
        join(pkgs.kernel.dir, 'boot', readdirSync(join(pkgs.kernel.dir, 'boot')).find((f) => f.startsWith('vmlinuz-')) ?? 'missing'),
      ),
      [GUEST_CONFIG.files.initrd]: buildInitramfs(pkgs.busybox.dir, pkgs.kernel.dir),
    };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(ASSETS_DIR, name), data);

    const licences = join(ASSETS_DIR, 'licences');
    mkdirSync(licences, { recursive: true });
    for (const { dir, record } of Object.values(pkgs)) {
      copyFileSync(join(dir, 'usr/share/doc', record.name, 'copyright'), join(licences, `${record.name}.copyright`));
    }

    const manifest: AssetManifest = {
      note: 'Built by `npm run assets` (tools/build-assets.ts, tools/make-snapshot.ts) from Debian packages.',
      packages: Object.values(pkgs).map((p) => p.record),
      licences: {
        seabios: 'LGPL-3.0 (licences/seabios.copyright)',
        'linux-image': 'GPL-2.0 (licences/linux-image-*.copyright)',
        'busybox-static': 'GPL-2.0 (licences/busybox-static.copyright)',
        'guest scripts': 'same licence as this project',
      },
      files: Object.fromEntries(Object.entries(files).map(([name, data]) => [name, { bytes: data.length, sha256: sha256(data) }])),
    };
    writeFileSync(join(ASSETS_DIR, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    console.log(`wrote ${Object.keys(files).join(', ')} and manifest.json to ${ASSETS_DIR}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
