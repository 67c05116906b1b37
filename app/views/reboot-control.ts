// "Reboot the guest": the serving PC's guest reboots (BIOS, kernel, init)
// with its disk kept, and the ledger comes back from its journal. Both PCs
// are made able to boot the kernel first (built from the snapshot, they were
// started without it): a failover in the middle of the reboot must be able to
// finish it.
import { REBOOT_GUEST } from '../../engine/vm/guest-protocol.ts';
import type { ClusterModel, PcModel } from '../model.ts';
import { h } from '../dom.ts';
import { formatMs } from '../format.ts';

/** What the ledger prints on the console once it read its journal back. */
const LEDGER_BACK = 'ledger: ready (';
const REBOOT_TIMEOUT_MS = 180_000;

export class RebootControl {
  readonly button: HTMLButtonElement;
  /** What the reboot is doing, and what came back. */
  readonly status: HTMLElement;

  constructor(private readonly cluster: ClusterModel) {
    this.button = h('button', { type: 'button', 'data-action': 'reboot-guest', text: 'Reboot the guest' });
    this.button.setAttribute('title', 'Reboot the serving PC’s guest: BIOS, kernel and init run again, RAM starts afresh, the disk stays; the ledger reads its journal back');
    this.button.addEventListener('click', () => void this.reboot());
    this.status = h('p', { class: 'reboot-status', 'data-reboot': '', 'aria-live': 'polite' });
  }

  private async reboot(): Promise<void> {
    const { cluster } = this;
    const side = cluster.serving;
    const pc = cluster[side];
    const name = cluster.names[side];
    if (!pc?.alive) return;
    this.button.disabled = true;
    this.status.dataset.reboot = 'arming';
    try {
      this.status.textContent = `Fetching the guest’s kernel and initrd for ${name} and its peer (7 MB: PCs built from the snapshot start without them)…`;
      await cluster.armReboot();
      const from = pc.transcriptEnd(0);
      const started = performance.now();
      this.status.dataset.reboot = 'rebooting';
      this.status.textContent = `${name}’s guest reboots: BIOS, kernel, init — its RAM starts afresh, its disk stays. Checkpoints go on; the ledger will read its journal back…`;
      await pc.machine.sendSerial(0, `${REBOOT_GUEST}\n`);
      await pc.waitForOutput(0, LEDGER_BACK, REBOOT_TIMEOUT_MS, from);
      const line = await wholeLine(pc);
      this.status.dataset.reboot = 'done';
      this.status.textContent = `${name} rebooted in ${formatMs(performance.now() - started)}: “${line}”`;
    } catch (err) {
      this.status.dataset.reboot = 'failed';
      this.status.textContent = `The reboot of ${name} did not finish: ${(err as Error).message}`;
    } finally {
      this.button.disabled = false;
    }
  }
}

/** The ledger's line on the console once all of it arrived (output comes in batches). */
async function wholeLine(pc: PcModel): Promise<string> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const output = pc.transcript(0);
    const at = output.lastIndexOf(LEDGER_BACK);
    const end = output.indexOf(')', at);
    if (end !== -1) return output.slice(at, end + 1);
    if (performance.now() > deadline) throw new Error('the ledger’s line on the console did not end');
    await new Promise<void>((resolve) => {
      const stop = pc.subscribe(() => {
        stop();
        resolve();
      });
      setTimeout(() => {
        stop();
        resolve();
      }, 1000);
    });
  }
}
