// One PC: role and run state, the checkpoint it holds, instructions per second,
// its serial console (xterm.js, interactive while it serves) and VGA screen.
import type { ConsoleFeed } from '../../engine/host/feed.ts';
import type { MemoryUse } from '../../engine/vm/machine-api.ts';
import { formatBytes } from '../format.ts';
import type { Role, VmView } from '../cluster-view.ts';
import { h } from '../dom.ts';
import { Terminal } from '../xterm-csp.ts';

/**
 * What the checkpoint number beside it means for a PC in each role: a primary
 * has taken it (the secondary may not hold it yet), a secondary holds it, and
 * of a PC that is gone it is only the last the host heard (its last reports
 * may have died with it).
 */
const CHECKPOINT_LABEL: Record<Role, string> = {
  starting: 'checkpoint held',
  primary: 'checkpoint taken',
  secondary: 'checkpoint held',
  unprotected: 'last checkpoint',
  dead: 'last heard at',
  frozen: 'last heard at',
  fenced: 'last heard at',
  stopped: 'checkpoint held',
};

export class VmPanel {
  readonly root: HTMLElement;
  private readonly role: HTMLElement;
  private readonly roleDetail: HTMLElement;
  private readonly run: HTMLElement;
  private readonly checkpoint: HTMLElement;
  private readonly checkpointLabel: HTMLElement;
  private readonly ips: HTMLElement;
  private readonly memory: HTMLElement;
  private readonly screen: HTMLPreElement;
  private readonly terminal: Terminal;
  private readonly termBox: HTMLElement;
  private console: ConsoleFeed | undefined;
  private unsubscribe: () => void = () => {};
  private opened = false;
  private interactive = false;
  private readonly title: HTMLElement;
  /** Shows the serial console (true) or the VGA screen. */
  readonly selectTab: (serial: boolean) => void;

  /** `type`: keystrokes for the console of the PC shown, while it serves. */
  constructor(
    readonly name: string,
    side: string,
    type: (pc: number, data: string) => void,
  ) {
    this.role = h('span', { class: 'badge', 'data-role': '' });
    this.roleDetail = h('span', { class: 'role-detail', 'data-role-detail': '' });
    this.run = h('span', { class: 'badge run', 'data-run': '' });
    this.checkpoint = h('span', { 'data-checkpoint': '' }, '—');
    this.ips = h('span', { 'data-ips': '' }, '—');
    this.memory = h(
      'span',
      { 'data-memory': '', title: "The PC's WebAssembly memory: guest RAM, VGA memory, v86's tables and the checkpoint buffers beside them" },
      '—',
    );
    const termBox = h('div', { class: 'term', role: 'region', 'aria-label': `${name} serial console` });
    this.screen = h('pre', { class: 'screen', 'aria-label': `${name} VGA text screen`, tabindex: 0 });
    const consoleTab = h('button', { type: 'button', role: 'tab', 'aria-selected': 'true', text: 'Serial console' });
    const screenTab = h('button', { type: 'button', role: 'tab', 'aria-selected': 'false', text: 'VGA screen' });
    const select = (this.selectTab = (serial: boolean) => {
      consoleTab.setAttribute('aria-selected', String(serial));
      screenTab.setAttribute('aria-selected', String(!serial));
      termBox.hidden = !serial;
      this.screen.hidden = serial;
    });
    consoleTab.addEventListener('click', () => select(true));
    screenTab.addEventListener('click', () => select(false));
    select(side === 'primary');
    this.root = h(
      'section',
      { class: 'vm-panel', 'data-side': side, 'aria-label': name },
      h('header', {}, (this.title = h('h2', { text: name })), this.role, this.run),
      this.roleDetail,
      h(
        'dl',
        { class: 'facts' },
        (this.checkpointLabel = h('dt', { 'data-checkpoint-label': '', text: CHECKPOINT_LABEL.starting })),
        h('dd', {}, this.checkpoint),
        h('dt', { text: 'instructions/s' }),
        h('dd', {}, this.ips),
        h('dt', { text: 'memory' }),
        h('dd', {}, this.memory),
      ),
      h('div', { role: 'tablist', class: 'tabs' }, consoleTab, screenTab),
      termBox,
      this.screen,
    );
    this.termBox = termBox;
    this.terminal = new Terminal({ rows: 15, cols: 80, fontSize: 11, convertEol: false, scrollback: 2000 });
    this.terminal.onData((data) => {
      if (this.interactive && this.console) type(this.console.pc, data);
    });
  }

  /** The console of the PC shown, if one is. */
  get shown(): ConsoleFeed | undefined {
    return this.console;
  }

  /**
   * Shows this PC in the panel (again after re-protection, when another PC
   * takes the role), its console starting with `consoleText`. Call once the
   * panel is in the document: xterm measures its box when it opens.
   */
  attach(console: ConsoleFeed, name: string, consoleText: string): void {
    this.title.textContent = name;
    this.root.setAttribute('aria-label', name);
    if (console === this.console) return;
    if (!this.opened) this.terminal.open(this.termBox);
    this.opened = true;
    this.showConsole(consoleText);
    this.unsubscribe();
    this.console = console;
    this.unsubscribe = console.onText((text) => this.terminal.write(text));
  }

  /** The panel goes: its terminal and its console's listener with it. */
  dispose(): void {
    this.unsubscribe();
    this.terminal.dispose();
  }

  /** Starts the console afresh with `text`: a PC's output so far, or what it carried over at a takeover. */
  showConsole(text: string): void {
    this.terminal.reset();
    this.terminal.write(text);
  }

  update(view: VmView): void {
    this.role.textContent = view.role;
    this.role.dataset.role = view.role;
    this.roleDetail.textContent = view.roleDetail;
    this.run.textContent = view.run;
    this.run.dataset.run = view.run;
    this.checkpoint.textContent = view.checkpoint > 0 ? `#${view.checkpoint}` : '—';
    this.checkpointLabel.textContent = CHECKPOINT_LABEL[view.role];
    this.interactive = view.interactive;
    this.root.dataset.role = view.role;
  }

  showRate(instructionsPerSecond: number | undefined): void {
    this.ips.textContent = instructionsPerSecond === undefined ? '—' : `${(instructionsPerSecond / 1e6).toFixed(1)} M`;
  }

  showMemory(use: MemoryUse | undefined): void {
    this.memory.textContent = use ? `${formatBytes(use.wasmBytes)} (guest RAM ${formatBytes(use.ramBytes)})` : '—';
    if (use) this.memory.dataset.memoryBytes = String(use.wasmBytes);
    else delete this.memory.dataset.memoryBytes;
  }

  showScreen(rows: string[]): void {
    this.screen.textContent = rows.map((row) => row.trimEnd()).join('\n');
  }
}
