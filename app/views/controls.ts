// Every button is an engine command. The only state kept here is which gate
// (step mode, delay) the user chose, since it is applied to both sides at once.
import type { ColoCluster } from '../../engine/host/cluster.ts';
import type { CheckpointMode } from '../../engine/replication/config.ts';
import { COMPARE_MEANING, MODE_MEANING } from '../explain.ts';
import { h } from '../dom.ts';

const PERIODS = [25, 100, 250, 500, 1000, 2000, 5000, 20000];
const MODES: [CheckpointMode, string][] = [
  ['strict', 'changed pages, primary waits (COLO)'],
  ['speculative', 'changed pages, primary runs on (Remus)'],
  ['naive', 'whole state every time'],
];
const SPEEDS: [string, number][] = [
  ['normal', 0],
  ['slow (0.4 s per message)', 400],
  ['very slow (1.5 s per message)', 1500],
];

export class Controls {
  readonly root: HTMLElement;
  private readonly buttons: Record<string, HTMLButtonElement> = {};
  private stepMode = false;
  private delayMs = 0;

  constructor(private readonly cluster: ColoCluster) {
    const period = h('select', { id: 'period', 'data-control': 'period' },
      ...PERIODS.map((ms) => h('option', { value: ms, selected: ms === 1000, text: ms >= 1000 ? `${ms / 1000} s` : `${ms} ms` })));
    period.addEventListener('change', () => cluster.configure({ periodMs: Number(period.value) }));
    const mode = h('select', { id: 'mode', 'data-control': 'mode' },
      ...MODES.map(([value, label]) => h('option', { value, selected: value === cluster.config.mode, text: label })));
    const modeHelp = h('p', { class: 'mode-help', 'data-mode-help': '', text: MODE_MEANING[cluster.config.mode] });
    const policy = h('select', { id: 'policy', 'data-control': 'policy' },
      h('option', { value: 'periodic', selected: !cluster.config.compare.enabled, text: 'waits for each checkpoint (periodic)' }),
      h('option', { value: 'compare', selected: cluster.config.compare.enabled, text: 'runs too; replies compared (COLO)' }));
    policy.setAttribute('title', COMPARE_MEANING);
    policy.addEventListener('change', () => cluster.configure({ compare: { ...cluster.config.compare, enabled: policy.value === 'compare' } }));
    mode.addEventListener('change', () => {
      const chosen = mode.value as CheckpointMode;
      cluster.configure({ mode: chosen });
      modeHelp.textContent = MODE_MEANING[chosen];
    });
    const speed = h('select', { id: 'speed', 'data-control': 'speed' }, ...SPEEDS.map(([label, ms]) => h('option', { value: ms, text: label })));
    speed.addEventListener('change', () => {
      this.delayMs = Number(speed.value);
      void this.applyGate();
    });
    const unsafe = h('input', { type: 'checkbox', id: 'unsafe', 'data-control': 'unsafe' });
    unsafe.addEventListener('change', () => {
      cluster.configure({ outputCommit: unsafe.checked ? 'unsafe' : 'hold' });
      document.body.dataset.unsafe = String(unsafe.checked);
    });

    const auto = h('input', { type: 'checkbox', 'data-control': 'auto-reprotect' });
    auto.addEventListener('change', () => cluster.setAutoReprotect(auto.checked));
    this.root = h(
      'nav',
      { class: 'controls', 'aria-label': 'Controls' },
      h('div', { class: 'group' }, h('label', { for: 'period', text: 'Checkpoint every' }), period, this.button('checkpoint', 'Checkpoint now', () => cluster.checkpointNow())),
      h('div', { class: 'group' }, h('label', { for: 'mode', text: 'Checkpoints move' }), mode, modeHelp),
      h('div', { class: 'group' }, h('label', { for: 'policy', text: 'Secondary' }), policy),
      h(
        'div',
        { class: 'group' },
        this.button('step-mode', 'Step mode', () => this.toggleStep(), true),
        this.button('step', 'Step ▶', () => void cluster.step()),
        h('label', { for: 'speed', text: 'Speed' }),
        speed,
      ),
      h(
        'div',
        { class: 'group danger' },
        this.button('kill-primary', 'Kill primary', () => cluster.killPrimary()),
        this.button('freeze-primary', 'Freeze primary', () => cluster.freezePrimary()),
        this.button('cut-link', 'Cut the link', () => cluster.cutLink()),
        this.button('kill-secondary', 'Kill secondary', () => cluster.killSecondary()),
        this.button('failover', 'Failover now', () => cluster.failover()),
      ),
      h(
        'div',
        { class: 'group' },
        this.button('reprotect', 'Start a new secondary', () => void cluster.reprotect()),
        h('label', {}, auto, ' re-protect automatically'),
      ),
      h('div', { class: 'group' }, h('label', { class: 'unsafe' }, unsafe, ' Unsafe mode: release replies without waiting for a checkpoint')),
    );
    this.buttons.failover?.setAttribute('title', "QEMU's x-colo-lost-heartbeat: the secondary takes over at once");
    this.update();
  }

  update(): void {
    const c = this.cluster;
    const replicating = c.serving === 'primary' && c.status.primary?.phase !== 'exited' && !!c.status.primary;
    const set = (name: string, enabled: boolean) => {
      const b = this.buttons[name];
      if (b) b.disabled = !enabled;
    };
    set('checkpoint', replicating && c.fate.primary === 'alive');
    set('step-mode', replicating);
    set('step', replicating && this.stepMode);
    // Faults wait until a PC has started its role: the first pair's start does not survive a PC lost midway.
    set('kill-primary', c.serving === 'primary' && !!c.primary?.alive && !!c.status.primary);
    set('freeze-primary', c.serving === 'primary' && c.fate.primary === 'alive' && !!c.primary?.alive && !!c.status.primary);
    set('cut-link', replicating && !!c.secondary?.alive);
    set('kill-secondary', !!c.secondary?.alive && c.serving === 'primary' && !!c.status.secondary);
    set('failover', c.protected);
    set('reprotect', c.canReprotect);
  }

  private button(name: string, label: string, action: () => void, toggle = false): HTMLButtonElement {
    const b = h('button', { type: 'button', 'data-action': name, text: label, ...(toggle ? { 'aria-pressed': 'false' } : {}) });
    b.addEventListener('click', () => {
      action();
      this.update();
    });
    this.buttons[name] = b;
    return b;
  }

  private toggleStep(): void {
    this.stepMode = !this.stepMode;
    this.buttons['step-mode']?.setAttribute('aria-pressed', String(this.stepMode));
    document.body.dataset.stepMode = String(this.stepMode);
    void this.applyGate();
  }

  private async applyGate(): Promise<void> {
    const gate = { step: this.stepMode, breakBefore: [], delayMs: this.delayMs };
    await this.cluster.configure({ gate });
  }
}
