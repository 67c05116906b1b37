// "Reboot the guest": the serving PC's guest reboots (BIOS, kernel, init) with
// its disk kept, and the ledger comes back from its journal. Every PC of the
// service is made able to boot the kernel first (built from the snapshot,
// they were started without it): a failover in the middle of the reboot must
// be able to finish it. The procedure says how far it has gone, as data.
import type { RebootState } from './surface.ts';
import { REBOOT_GUEST } from '../vm/guest-protocol.ts';
import type { SerialPort } from '../vm/machine-api.ts';

/** What the ledger prints on the console once it read its journal back. */
export const LEDGER_BACK = 'ledger: ready (';
const REBOOT_TIMEOUT_MS = 180_000;
/** The ledger's line on the console may come in more than one batch. */
const LINE_TIMEOUT_MS = 10_000;

/** The serving PC, as the reboot needs it: its console. */
export interface RebootingPc {
  readonly alive: boolean;
  readonly machine: { sendSerial(port: SerialPort, data: string): Promise<void> | void };
  transcript(port: SerialPort): string;
  transcriptEnd(port: SerialPort): number;
  waitForOutput(port: SerialPort, text: string, timeoutMs: number, from?: number): Promise<void>;
}

/**
 * Reboots `pc`'s guest, named `name`, once `armAll` has armed every PC of the
 * service; tells `report` each step, and ends with `done` (how long it took and
 * the ledger's line) or `failed` (why). `now`: the clock, in ms.
 */
export async function rebootGuest(
  pc: RebootingPc,
  name: string,
  armAll: () => Promise<void>,
  report: (state: RebootState) => void,
  now: () => number,
): Promise<void> {
  try {
    report({ kind: 'arming', name });
    await armAll();
    const from = pc.transcriptEnd(0);
    const since = now();
    report({ kind: 'rebooting', name, since });
    await pc.machine.sendSerial(0, `${REBOOT_GUEST}\n`);
    await pc.waitForOutput(0, LEDGER_BACK, REBOOT_TIMEOUT_MS, from);
    // The line is whole once its closing parenthesis has come.
    await pc.waitForOutput(0, ')', LINE_TIMEOUT_MS, pc.transcript(0).lastIndexOf(LEDGER_BACK) + pc.transcriptEnd(0) - pc.transcript(0).length);
    const output = pc.transcript(0);
    const at = output.lastIndexOf(LEDGER_BACK);
    report({ kind: 'done', name, ms: now() - since, line: output.slice(at, output.indexOf(')', at) + 1) });
  } catch (err) {
    report({ kind: 'failed', name, why: err instanceof Error ? err.message : String(err) });
  }
}
