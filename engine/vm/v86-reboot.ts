// A reboot for a VM built from the booted snapshot. v86 loads a Linux kernel
// only when it is built with one (v86 0.5.462 src/cpu.js init, load_kernel in
// src/kernel.js): it copies the kernel's setup code, the kernel, the initrd
// and the command line into RAM and adds an option ROM that jumps into the
// setup code. A reboot (the guest's `reboot`, through the keyboard
// controller's or the PCI reset) runs the BIOS again, which runs the ROM: but
// the running guest has long since written over those copies, and a VM built
// from a snapshot has no ROM at all. armReboot() adds the same ROM and puts
// the copies back at each reset, at the addresses load_kernel uses, so a
// reboot boots the kernel afresh. The disk is left as it is: a reboot keeps it.

export interface KernelFiles {
  bzimage: ArrayBuffer;
  initrd: ArrayBuffer;
  cmdline: string;
}

interface RebootableCpu {
  wasm_memory?: unknown;
  /** Guest RAM: a view (v86 wraps it in a Proxy) into wasm_memory. */
  mem8?: { byteOffset?: unknown; length?: unknown };
  option_roms?: unknown;
  reboot_internal?: unknown;
}

// Where load_kernel puts each part (physical addresses).
const SETUP_AT = 0x80000;
const CMDLINE_AT = 0x8e000;
const KERNEL_AT = 0x100000;
const INITRD_AT = 0x4000000;
const ROM_NAME = 'genroms/kernel.bin';

/**
 * Makes `cpu` boot `files` on every reset from now on; `wroteRam` is told each
 * time RAM was written behind the guest's back. Returns why it cannot, if it cannot.
 */
export function armReboot(cpu: RebootableCpu, files: KernelFiles, wroteRam: () => void): string | undefined {
  const { wasm_memory: memory, mem8, option_roms: roms, reboot_internal: reboot } = cpu;
  if (
    !(memory instanceof WebAssembly.Memory) ||
    typeof mem8?.byteOffset !== 'number' ||
    typeof mem8.length !== 'number' ||
    !Array.isArray(roms) ||
    typeof reboot !== 'function'
  ) {
    return 'v86 cpu lacks wasm_memory, mem8, option_roms or reboot_internal';
  }
  const { byteOffset, length } = mem8 as { byteOffset: number; length: number };
  if (length < INITRD_AT + files.initrd.byteLength) return `the initrd does not fit in ${length} bytes of RAM above ${INITRD_AT}`;
  const image = bootImage(files);
  if (typeof image === 'string') return image;
  const armed = roms.some((rom: { name?: unknown }) => rom.name === ROM_NAME);
  if (!armed) roms.push({ name: ROM_NAME, data: image.rom });
  cpu.reboot_internal = function (this: unknown) {
    (reboot as (this: unknown) => void).call(this);
    // The BIOS runs the ROM once the CPU runs again: the copies must be back by then.
    // A view made now: the memory may have grown since (views made before are then detached).
    const ram = new Uint8Array(memory.buffer, byteOffset, length);
    ram.set(image.cmdline, CMDLINE_AT);
    ram.set(image.setup, SETUP_AT);
    ram.set(image.kernel, KERNEL_AT);
    ram.set(image.initrd, INITRD_AT);
    wroteRam();
  };
  return undefined;
}

interface BootImage {
  setup: Uint8Array;
  kernel: Uint8Array;
  initrd: Uint8Array;
  cmdline: Uint8Array;
  rom: Uint8Array;
}

/** The parts as load_kernel writes them: the setup header filled in for a loader, and the ROM that enters the setup code. */
function bootImage(files: KernelFiles): BootImage | string {
  const bytes = new Uint8Array(files.bzimage.slice(0));
  const view = new DataView(bytes.buffer);
  if (bytes.length < 1024 || view.getUint16(510, true) !== 0xaa55 || view.getUint32(514, true) !== 0x53726448) {
    return 'the kernel is not a bzImage (no boot sector or "HdrS" setup header)';
  }
  const setupBytes = 512 * ((bytes[497] || 4) + 1);
  // The boot protocol's loader fields, as load_kernel sets them.
  bytes[528] = 0xff; // type_of_loader: undefined loader
  bytes[529] = ((bytes[529] ?? 0) & ~0x60) | 0x80; // loadflags: CAN_USE_HEAP, no QUIET_FLAG or KEEP_SEGMENTS
  view.setUint16(548, 0xde00, true); // heap_end_ptr
  view.setUint16(506, 0xffff, true); // vid_mode: normal
  view.setUint32(552, CMDLINE_AT, true); // cmd_line_ptr
  view.setUint32(536, INITRD_AT, true); // ramdisk_image
  view.setUint32(540, files.initrd.byteLength, true); // ramdisk_size
  const cmdline = new TextEncoder().encode(`${files.cmdline}\0`);
  return {
    setup: bytes.subarray(0, setupBytes),
    kernel: bytes.subarray(setupBytes),
    initrd: new Uint8Array(files.initrd),
    cmdline,
    rom: entryRom(),
  };
}

/** A 512-byte option ROM: segments to the setup code's, a stack under the heap end, a far jump to its entry (0x8020:0). */
function entryRom(): Uint8Array {
  const rom = new Uint8Array(512);
  rom.set([0x55, 0xaa, 1]);
  rom.set(
    [
      0xfa, // cli
      0xb8,
      0x00,
      0x80, // mov ax, 0x8000
      0x8e,
      0xc0,
      0x8e,
      0xd8,
      0x8e,
      0xe0,
      0x8e,
      0xe8,
      0x8e,
      0xd0, // mov es/ds/fs/gs/ss, ax
      0xbc,
      0x00,
      0xe0, // mov sp, 0xe000
      0xea,
      0x00,
      0x00,
      0x20,
      0x80, // jmp 0x8020:0000
    ],
    3,
  );
  const sum = rom.reduce((a, b) => a + b, 0);
  rom[25] = (256 - (sum % 256)) % 256;
  return rom;
}
