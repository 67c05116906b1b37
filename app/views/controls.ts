// Every button is an engine command. The only state kept here is which gate
// (step mode, a breakpoint, delay) the user chose, since it is applied to both
// sides at once (a side holds only the message types it sends).
import { COLO_MESSAGE_TYPES, type ColoMessageType } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import type { CheckpointMode } from '../../engine/replication/config.ts';
import { COMPARE_MEANING, MODE_MEANING } from '../explain.ts';
import { h } from '../dom.ts';
import type { ClusterModel } from '../model.ts';
import { runningSettingsLine } from './running-settings.ts';
import { FAULTS, scenarioQuery, type Fault, type Scenario } from '../scenario.ts';

const PERIODS = [25, 100, 250, 500, 1000, 2000, 5000, 20000];
const MODES: [CheckpointMode, string][] = [
  // The names the timeline, measurements and tour use, with what each does (and the system that does it so, once).
  ['strict', 'strict: changed pages, waits (COLO)'],
  ['speculative', 'speculative: runs on (Remus)'],
  ['naive', 'naive: the whole state'],
];
const FAULT_LABELS: Record<Fault, string> = {
  'kill-primary': 'kill the primary',
  'freeze-primary': 'freeze the primary',
  'cut-link': 'cut the link',
  'kill-secondary': 'kill the secondary',
};
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
  private breakBefore: ColoMessageType | undefined;
  private readonly breakStatus: HTMLElement;
  /** What the serving PC says it runs (not what was asked of it). */
  private readonly running: HTMLElement;
  /** Injected once, when the breakpoint next stops. */
  private fault: Fault | undefined;
  /** The held message the fault was injected at (time), so it is injected once. */
  private injectedAt: number | undefined;
  private readonly selects: Record<'period' | 'mode' | 'policy' | 'breakpoint' | 'fault', HTMLSelectElement>;
  private readonly link: HTMLInputElement;

  constructor(private readonly cluster: ClusterModel) {
    const period = h('select', { id: 'period', 'data-control': 'period' },
      ...PERIODS.map((ms) => h('option', { value: ms, selected: ms === 1000, text: ms >= 1000 ? `${ms / 1000} s` : `${ms} ms` })));
    period.addEventListener('change', () => cluster.configure({ periodMs: Number(period.value) }));
    const mode = h('select', { id: 'mode', 'data-control': 'mode' },
      ...MODES.map(([value, label]) => h('option', { value, selected: value === cluster.config.mode, text: label })));
    const modeHelp = h('p', { class: 'mode-help', 'data-mode-help': '', text: MODE_MEANING[cluster.config.mode] });
    const policy = h('select', { id: 'policy', 'data-control': 'policy' },
      h('option', { value: 'periodic', selected: !cluster.config.compare.enabled, text: 'periodic: waits for checkpoints' }),
      h('option', { value: 'compare', selected: cluster.config.compare.enabled, text: 'compare mode (colo-compare)' }));
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
    // A breakpoint: every checkpoint stops before this message, until Step ▶ lets it go.
    const breakpoint = h('select', { id: 'break-before', 'data-control': 'break-before' },
      h('option', { value: '', text: 'nothing' }),
      ...COLO_MESSAGE_TYPES.map((type) => h('option', { value: type, text: type })));
    breakpoint.addEventListener('change', () => {
      this.breakBefore = COLO_MESSAGE_TYPES.find((type) => type === breakpoint.value);
      void this.applyGate();
      this.update();
    });
    this.breakStatus = h('p', { class: 'break-status', 'data-break-status': '', 'aria-live': 'polite' });
    const fault = h('select', { id: 'fault', 'data-control': 'fault' },
      h('option', { value: '', text: 'then wait' }),
      ...FAULTS.map((f) => h('option', { value: f, text: `then ${FAULT_LABELS[f]}` })));
    fault.addEventListener('change', () => {
      this.fault = FAULTS.find((f) => f === fault.value);
      this.injectedAt = undefined;
    });
    this.selects = { period, mode, policy, breakpoint, fault };
    this.link = h('input', { type: 'text', readonly: true, class: 'scenario-link', 'data-scenario-link': '', 'aria-label': 'link to this setup', hidden: true });
    const unsafe = h('input', { type: 'checkbox', id: 'unsafe', 'data-control': 'unsafe' });
    unsafe.addEventListener('change', () => {
      cluster.configure({ outputCommit: unsafe.checked ? 'unsafe' : 'hold' });
      document.body.dataset.unsafe = String(unsafe.checked);
    });

    this.running = h('p', { class: 'running-settings', 'data-running': '', 'aria-live': 'polite' });
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
        h('label', { for: 'break-before', text: 'Stop before' }),
        breakpoint,
        fault,
        h('label', { for: 'speed', text: 'Speed' }),
        speed,
        this.breakStatus,
      ),
      h('div', { class: 'group' }, this.button('copy-link', 'Copy link to this setup', () => void this.copyLink()), this.link),
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
      h('div', { class: 'group' }, h('label', { class: 'unsafe' }, unsafe, ' Unsafe mode: release replies without waiting for a checkpoint'), this.running),
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
    set('step', replicating && (this.stepMode || this.breakBefore !== undefined));
    this.breakStatus.textContent = this.breakBefore ? this.describeBreak(this.breakBefore) : '';
    this.running.textContent = runningSettingsLine(c.names[c.serving], c.status[c.serving]?.settings, c.config);
    // Faults wait until a PC has started its role: the first pair's start does not survive a PC lost midway.
    set('kill-primary', c.serving === 'primary' && !!c.primary?.alive && !!c.status.primary);
    set('freeze-primary', c.serving === 'primary' && c.fate.primary === 'alive' && !!c.primary?.alive && !!c.status.primary);
    set('cut-link', replicating && !!c.secondary?.alive);
    set('kill-secondary', !!c.secondary?.alive && c.serving === 'primary' && !!c.status.secondary);
    set('failover', c.protected);
    set('reprotect', c.canReprotect);
    set('copy-link', true);
    this.injectAtBreak();
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

  /** The held message the breakpoint stopped at, while it is held. */
  private stoppedAt(type: ColoMessageType): (TraceEvent & { kind: 'held' }) | undefined {
    const trace = this.cluster.trace;
    const held = trace.findLast((e) => e.kind === 'held' && e.type === type);
    if (held?.kind !== 'held' || this.cluster.serving !== 'primary') return undefined;
    const released = trace.some((e) => e.time >= held.time && e.kind === 'message' && e.at === 'sent' && e.type === type && e.checkpoint === held.checkpoint);
    return released ? undefined : held;
  }

  /** Where the breakpoint stands: waiting for its message, or holding it now. */
  private describeBreak(type: ColoMessageType): string {
    const held = this.stoppedAt(type);
    const then = this.fault && this.injectedAt === undefined ? `, then ${FAULT_LABELS[this.fault]}` : '';
    if (held) return `Stopped before ${type} of checkpoint #${held.checkpoint ?? '?'}: kill, freeze or cut now, or Step ▶ to let it go.`;
    return `Every checkpoint will stop before ${type}${then}.`;
  }

  // A scenario's fault, injected once when the breakpoint first stops.
  private injectAtBreak(): void {
    if (!this.breakBefore || !this.fault || this.injectedAt !== undefined) return;
    const held = this.stoppedAt(this.breakBefore);
    if (!held) return;
    this.injectedAt = held.time;
    const actions: Record<Fault, () => void> = {
      'kill-primary': () => this.cluster.killPrimary(),
      'freeze-primary': () => this.cluster.freezePrimary(),
      'cut-link': () => this.cluster.cutLink(),
      'kill-secondary': () => this.cluster.killSecondary(),
    };
    actions[this.fault]();
  }

  /** Sets the controls as a scenario says, through the same handlers a click would run. */
  apply(scenario: Scenario): void {
    const choose = (select: HTMLSelectElement, value: string) => {
      if (![...select.options].some((o) => o.value === value)) select.append(h('option', { value, text: `${value} ms` }));
      select.value = value;
      select.dispatchEvent(new Event('change'));
    };
    if (scenario.mode) choose(this.selects.mode, scenario.mode);
    if (scenario.periodMs !== undefined) choose(this.selects.period, String(scenario.periodMs));
    if (scenario.compare !== undefined) choose(this.selects.policy, scenario.compare ? 'compare' : 'periodic');
    if (scenario.step && !this.stepMode) this.toggleStep();
    if (scenario.breakBefore) choose(this.selects.breakpoint, scenario.breakBefore);
    if (scenario.fault) choose(this.selects.fault, scenario.fault);
  }

  /** The current setup as a link: shown, and copied where the browser allows. */
  private async copyLink(): Promise<void> {
    const scenario: Scenario = {
      mode: this.cluster.config.mode,
      periodMs: this.cluster.config.periodMs,
      compare: this.cluster.config.compare.enabled,
      ...(this.stepMode ? { step: true } : {}),
      ...(this.breakBefore ? { breakBefore: this.breakBefore } : {}),
      ...(this.fault ? { fault: this.fault } : {}),
    };
    this.link.value = `${location.origin}${location.pathname}${scenarioQuery(scenario)}`;
    this.link.hidden = false;
    this.link.select();
    try {
      await navigator.clipboard.writeText(this.link.value);
    } catch {
      // No clipboard here (an insecure origin, or no permission): the link is shown, selected.
    }
  }

  private async applyGate(): Promise<void> {
    const gate = { step: this.stepMode, breakBefore: this.breakBefore ? [this.breakBefore] : [], delayMs: this.delayMs };
    await this.cluster.configure({ gate });
  }
}
