// Every button is a command to the service. What the controls show (the
// gate, the fault chosen for the breakpoint) is the service's state; the only
// thing kept here is what the user has chosen and not yet seen come back.
import type { ClusterFeed } from '../../engine/host/feed.ts';
import { BREAK_FAULTS, type BreakFault, type ClusterCommands, type ClusterState } from '../../engine/host/surface.ts';
import { COLO_MESSAGE_TYPES, type ColoMessageType } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import type { CheckpointMode, GateConfig } from '../../engine/replication/config.ts';
import { COMPARE_MEANING, MODE_MEANING } from '../explain.ts';
import { h } from '../dom.ts';
import { scenarioQuery, type Scenario } from '../scenario.ts';
import { runningSettingsLine } from './running-settings.ts';

const PERIODS = [25, 100, 250, 500, 1000, 2000, 5000, 20000];
const MODES: [CheckpointMode, string][] = [
  // The names the timeline, measurements and tour use, with what each does (and the system that does it so, once).
  ['strict', 'strict: changed pages, waits (COLO)'],
  ['speculative', 'speculative: runs on (Remus)'],
  ['naive', 'naive: the whole state'],
];
const FAULT_LABELS: Record<BreakFault, string> = {
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
  private readonly breakStatus: HTMLElement;
  /** What the serving PC says it runs (not what was asked of it). */
  private readonly running: HTMLElement;
  private readonly selects: Record<'period' | 'mode' | 'policy' | 'breakpoint' | 'fault' | 'speed', HTMLSelectElement>;
  private readonly link: HTMLInputElement;

  constructor(
    private readonly feed: ClusterFeed,
    private readonly commands: ClusterCommands,
  ) {
    const config = feed.state.config;
    const period = h(
      'select',
      { id: 'period', 'data-control': 'period' },
      ...PERIODS.map((ms) => h('option', { value: ms, selected: ms === config.periodMs, text: ms >= 1000 ? `${ms / 1000} s` : `${ms} ms` })),
    );
    period.addEventListener('change', () => void commands.configure({ periodMs: Number(period.value) }));
    const mode = h(
      'select',
      { id: 'mode', 'data-control': 'mode' },
      ...MODES.map(([value, label]) => h('option', { value, selected: value === config.mode, text: label })),
    );
    const modeHelp = h('p', { class: 'mode-help', 'data-mode-help': '', text: MODE_MEANING[config.mode] });
    const policy = h(
      'select',
      { id: 'policy', 'data-control': 'policy' },
      h('option', { value: 'periodic', selected: !config.compare.enabled, text: 'periodic: waits for checkpoints' }),
      h('option', { value: 'compare', selected: config.compare.enabled, text: 'compare mode (colo-compare)' }),
    );
    policy.setAttribute('title', COMPARE_MEANING);
    policy.addEventListener('change', () => void commands.configure({ compare: { ...feed.state.config.compare, enabled: policy.value === 'compare' } }));
    mode.addEventListener('change', () => {
      const chosen = mode.value as CheckpointMode;
      void commands.configure({ mode: chosen });
      modeHelp.textContent = MODE_MEANING[chosen];
    });
    const speed = h('select', { id: 'speed', 'data-control': 'speed' }, ...SPEEDS.map(([label, ms]) => h('option', { value: ms, text: label })));
    speed.addEventListener('change', () => this.setGate({ delayMs: Number(speed.value) }));
    // A breakpoint: every checkpoint stops before this message, until Step ▶ lets it go.
    const breakpoint = h(
      'select',
      { id: 'break-before', 'data-control': 'break-before' },
      h('option', { value: '', text: 'nothing' }),
      ...COLO_MESSAGE_TYPES.map((type) => h('option', { value: type, text: type })),
    );
    breakpoint.addEventListener('change', () => {
      const type = COLO_MESSAGE_TYPES.find((t) => t === breakpoint.value);
      this.setGate({ breakBefore: type ? [type] : [] });
    });
    this.breakStatus = h('p', { class: 'break-status', 'data-break-status': '', 'aria-live': 'polite' });
    const fault = h(
      'select',
      { id: 'fault', 'data-control': 'fault' },
      h('option', { value: '', text: 'then wait' }),
      ...BREAK_FAULTS.map((f) => h('option', { value: f, text: `then ${FAULT_LABELS[f]}` })),
    );
    fault.addEventListener('change', () => void commands.setBreakFault(BREAK_FAULTS.find((f) => f === fault.value)));
    this.selects = { period, mode, policy, breakpoint, fault, speed };
    this.link = h('input', {
      type: 'text',
      readonly: true,
      class: 'scenario-link',
      'data-scenario-link': '',
      'aria-label': 'link to this setup',
      hidden: true,
    });
    const unsafe = h('input', { type: 'checkbox', id: 'unsafe', 'data-control': 'unsafe', checked: config.outputCommit === 'unsafe' });
    unsafe.addEventListener('change', () => {
      void commands.configure({ outputCommit: unsafe.checked ? 'unsafe' : 'hold' });
      document.body.dataset.unsafe = String(unsafe.checked);
    });
    this.running = h('p', { class: 'running-settings', 'data-running': '', 'aria-live': 'polite' });
    const auto = h('input', { type: 'checkbox', 'data-control': 'auto-reprotect' });
    auto.addEventListener('change', () => void commands.setAutoReprotect(auto.checked));
    this.root = h(
      'nav',
      { class: 'controls', 'aria-label': 'Controls' },
      h(
        'div',
        { class: 'group' },
        h('label', { for: 'period', text: 'Checkpoint every' }),
        period,
        this.button('checkpoint', 'Checkpoint now', () => commands.checkpointNow()),
      ),
      h('div', { class: 'group' }, h('label', { for: 'mode', text: 'Checkpoints move' }), mode, modeHelp),
      h('div', { class: 'group' }, h('label', { for: 'policy', text: 'Secondary' }), policy),
      h(
        'div',
        { class: 'group' },
        this.button('step-mode', 'Step mode', () => this.setGate({ step: !feed.state.config.gate.step }), true),
        this.button('step', 'Step ▶', () => commands.step()),
        h('label', { for: 'break-before', text: 'Stop before' }),
        breakpoint,
        fault,
        h('label', { for: 'speed', text: 'Speed' }),
        speed,
        this.breakStatus,
      ),
      h(
        'div',
        { class: 'group' },
        this.button('copy-link', 'Copy link to this setup', () => this.copyLink()),
        this.link,
      ),
      h(
        'div',
        { class: 'group danger' },
        this.button('kill-primary', 'Kill primary', () => commands.kill('primary')),
        this.button('freeze-primary', 'Freeze primary', () => commands.freezePrimary()),
        this.button('cut-link', 'Cut the link', () => commands.cutLink()),
        this.button('kill-secondary', 'Kill secondary', () => commands.kill('secondary')),
        this.button('failover', 'Failover now', () => commands.failover()),
      ),
      h(
        'div',
        { class: 'group' },
        this.button('reprotect', 'Start a new secondary', () => commands.reprotect()),
        h('label', {}, auto, ' re-protect automatically'),
      ),
      h('div', { class: 'group' }, h('label', { class: 'unsafe' }, unsafe, ' Unsafe mode: release replies without waiting for a checkpoint'), this.running),
    );
    this.buttons.failover?.setAttribute('title', "QEMU's x-colo-lost-heartbeat: the secondary takes over at once");
    this.update();
  }

  update(): void {
    const c = this.feed.state;
    const gate = c.config.gate;
    const breakBefore = gate.breakBefore[0];
    const replicating = c.serving === 'primary' && c.status.primary?.phase !== 'exited' && !!c.status.primary;
    const primaryRuns = !!this.feed.pcIn('primary')?.alive;
    const secondaryRuns = !!this.feed.pcIn('secondary')?.alive;
    const set = (name: string, enabled: boolean) => {
      const b = this.buttons[name];
      if (b) b.disabled = !enabled;
    };
    this.buttons['step-mode']?.setAttribute('aria-pressed', String(gate.step));
    document.body.dataset.stepMode = String(gate.step);
    set('checkpoint', replicating && c.fate.primary === 'alive');
    set('step-mode', replicating);
    set('step', replicating && (gate.step || breakBefore !== undefined));
    this.breakStatus.textContent = breakBefore ? this.describeBreak(c, breakBefore) : '';
    this.running.textContent = runningSettingsLine(c.names[c.serving], c.status[c.serving]?.settings, c.config);
    // Faults wait until a PC has started its role: the first pair's start does not survive a PC lost midway.
    set('kill-primary', c.serving === 'primary' && primaryRuns && !!c.status.primary);
    set('freeze-primary', c.serving === 'primary' && c.fate.primary === 'alive' && primaryRuns && !!c.status.primary);
    set('cut-link', replicating && secondaryRuns);
    set('kill-secondary', secondaryRuns && c.serving === 'primary' && !!c.status.secondary);
    set('failover', c.protected);
    set('reprotect', c.canReprotect);
    set('copy-link', true);
  }

  private button(name: string, label: string, action: () => unknown, toggle = false): HTMLButtonElement {
    const b = h('button', { type: 'button', 'data-action': name, text: label, ...(toggle ? { 'aria-pressed': 'false' } : {}) });
    b.addEventListener('click', () => {
      void action();
      this.update();
    });
    this.buttons[name] = b;
    return b;
  }

  /** Step mode, a breakpoint or a speed, for both sides (a side holds only the message types it sends). */
  private setGate(change: Partial<GateConfig>): void {
    void this.commands.configure({ gate: { ...this.feed.state.config.gate, ...change } });
  }

  /** The held message the breakpoint stopped at, while it is held. */
  private stoppedAt(c: ClusterState, type: ColoMessageType): (TraceEvent & { kind: 'held' }) | undefined {
    const trace = this.feed.trace;
    const held = trace.findLast((e) => e.kind === 'held' && e.type === type);
    if (held?.kind !== 'held' || c.serving !== 'primary') return undefined;
    const released = trace.some((e) => e.time >= held.time && e.kind === 'message' && e.at === 'sent' && e.type === type && e.checkpoint === held.checkpoint);
    return released ? undefined : held;
  }

  /** Where the breakpoint stands: waiting for its message, or holding it now. */
  private describeBreak(c: ClusterState, type: ColoMessageType): string {
    const held = this.stoppedAt(c, type);
    const fault = c.breakFault;
    const then = fault && fault.injectedAt === undefined ? `, then ${FAULT_LABELS[fault.fault]}` : '';
    if (held) return `Stopped before ${type} of checkpoint #${held.checkpoint ?? '?'}: kill, freeze or cut now, or Step ▶ to let it go.`;
    return `Every checkpoint will stop before ${type}${then}.`;
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
    if (scenario.step || scenario.breakBefore) {
      const type = scenario.breakBefore;
      void this.commands.configure({
        gate: { ...this.feed.state.config.gate, ...(scenario.step ? { step: true } : {}), ...(type ? { breakBefore: [type] } : {}) },
      });
      if (type) this.selects.breakpoint.value = type;
    }
    if (scenario.fault) choose(this.selects.fault, scenario.fault);
  }

  /** The current setup as a link: shown, and copied where the browser allows. */
  private async copyLink(): Promise<void> {
    const { config, breakFault } = this.feed.state;
    const breakBefore = config.gate.breakBefore[0];
    const scenario: Scenario = {
      mode: config.mode,
      periodMs: config.periodMs,
      compare: config.compare.enabled,
      ...(config.gate.step ? { step: true } : {}),
      ...(breakBefore ? { breakBefore } : {}),
      ...(breakFault ? { fault: breakFault.fault } : {}),
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
}
