// "Reboot the guest": a button that asks the service for it
// (engine/host/reboot.ts runs the reboot), and a line that says how far it
// has gone and what the ledger read back.
import type { RebootState } from '../../engine/host/surface.ts';
import { h } from '../dom.ts';
import { formatMs } from '../format.ts';

export class RebootControl {
  readonly button: HTMLButtonElement;
  /** What the reboot is doing, and what came back. */
  readonly status: HTMLElement;

  constructor(reboot: () => void) {
    this.button = h('button', { type: 'button', 'data-action': 'reboot-guest', text: 'Reboot the guest' });
    this.button.setAttribute(
      'title',
      'Reboot the serving PC’s guest: BIOS, kernel and init run again, RAM starts afresh, the disk stays; the ledger reads its journal back',
    );
    this.button.addEventListener('click', reboot);
    this.status = h('p', { class: 'reboot-status', 'data-reboot': '', 'aria-live': 'polite' });
  }

  update(state: RebootState): void {
    const busy = state.kind === 'arming' || state.kind === 'rebooting';
    this.button.disabled = busy;
    this.status.dataset.reboot = state.kind === 'idle' ? '' : state.kind;
    this.status.textContent = describe(state);
  }
}

function describe(state: RebootState): string {
  switch (state.kind) {
    case 'idle':
      return '';
    case 'arming':
      return `Fetching the guest’s kernel and initrd for ${state.name} and its peer (7 MB: PCs built from the snapshot start without them)…`;
    case 'rebooting':
      return `${state.name}’s guest reboots: BIOS, kernel, init — its RAM starts afresh, its disk stays. Checkpoints go on; the ledger will read its journal back…`;
    case 'done':
      return `${state.name} rebooted in ${formatMs(state.ms)}: “${state.line}”`;
    case 'failed':
      return `The reboot of ${state.name} did not finish: ${state.why}`;
  }
}
