// A reboot for a VM built from the booted snapshot. v86 loads a Linux kernel
// only when it is built with one (v86 0.5.462 src/cpu.js init, load_kernel in
// src/kernel.js), and a VM built from the snapshot was not: on a reset (the
// guest's `reboot`, through the keyboard controller or the PCI reset) its BIOS
// would find nothing to boot. Booting the kernel afresh would take 20–40 s
// here besides. So the machine restores the booted snapshot on a reset, with
// the disk kept (engine/vm/machine.ts): RAM, CPU and devices as they were just
// after boot, the disk as the guest left it, and a ledger that reads its
// journal from that disk (the snapshot was saved before it read one). To the
// guest that is a reboot.

interface ResettableCpu {
  reboot_internal?: unknown;
}

/**
 * From now on every reset of `cpu` calls `reset` after v86's own (which puts
 * the CPU at the BIOS's entry: what runs until `reset` takes over is thrown
 * away). Called from inside a time slice: `reset` must only ask for work.
 * Returns why it cannot, if this v86 lacks the reset to hook.
 */
export function onGuestReset(cpu: ResettableCpu, reset: () => void): string | undefined {
  const reboot = cpu.reboot_internal;
  if (typeof reboot !== 'function') return 'v86 cpu lacks reboot_internal';
  cpu.reboot_internal = function (this: unknown) {
    (reboot as (this: unknown) => void).call(this);
    reset();
  };
  return undefined;
}
