// What the guest prints and expects on its serial ports (wasm-assets/guest/).

/** The shell prompt on ttyS0. */
export const SHELL_PROMPT = 'colo:/# ';

/** The ledger's banner on ttyS1. */
export const LEDGER_READY = 'ledger: ready';
/** What the ledger prints on the console before it reads its journal: the booted snapshot is saved in the pause after it. */
export const LEDGER_READS_JOURNAL = 'ledger: reading the journal';
/** A shell command that ends the ledger; the guest's init starts it again, and it reads its journal back from the disk. */
export const RESTART_LEDGER = 'kill $(cat /tmp/ledger.pid)';
/** A shell command that reboots the guest at once (no init to ask: PID 1 is colo's own script); the disk stays. */
export const REBOOT_GUEST = 'reboot -f';

/**
 * A ledger request line. The leading newline and the final " ." let the ledger
 * refuse a fragment left over from a request that a checkpoint caught half-read.
 */
export function ledgerRequest(id: string, operation: string): string {
  return `\n${id} ${operation} .\n`;
}
