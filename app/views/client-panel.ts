// The client's view: each request, its reply held inside the primary (waiting
// for a checkpoint) and then released, and the consistency badge: the count of
// everything the client's history checker found wrong, and an audit of the
// serving PC's ledger on demand.
import type { ClusterFeed } from '../../engine/host/feed.ts';
import type { ClientRequest } from '../../engine/host/ledger-client.ts';
import { violationCount } from '../../engine/host/history-checker.ts';
import type { ClusterCommands } from '../../engine/host/surface.ts';
import { RESTART_LEDGER } from '../../engine/vm/guest-protocol.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { h } from '../dom.ts';
import { formatMs } from '../format.ts';
import { RebootControl } from './reboot-control.ts';

interface Entry {
  row: HTMLLIElement;
  status: HTMLElement;
  reply: HTMLElement;
  compare: HTMLElement;
}

const VERDICT_TEXT = {
  match: 'both PCs wrote this reply: released without a checkpoint',
  mismatch: 'the PCs differed: a checkpoint brings the secondary in step, then this reply leaves',
  timeout: 'the secondary did not answer in time: a checkpoint, then this reply leaves',
} as const;

const MAX_ROWS = 14;

export class ClientPanel {
  readonly root: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly badge: HTMLElement;
  private readonly violations: HTMLElement;
  private readonly counts: HTMLElement;
  private readonly auditResult: HTMLElement;
  private readonly auditButton: HTMLButtonElement;
  private readonly entries = new Map<string, Entry>();
  /** Rows a violation names: kept past the list's length, so the badge can lead to them. */
  private readonly pinned = new Set<string>();
  private readonly showViolation: HTMLButtonElement;
  private readonly auto: HTMLInputElement;
  /** Whether requests go by themselves, as the service last said. */
  private automatic = true;
  private readonly reboot: RebootControl;
  private readonly stops: (() => void)[];

  constructor(
    private readonly feed: ClusterFeed,
    private readonly commands: ClusterCommands,
  ) {
    this.list = h('ol', { class: 'requests', 'aria-live': 'off' });
    this.showViolation = h('button', { type: 'button', class: 'link', 'data-action': 'show-violation', text: 'Show the reply it was about', hidden: true });
    this.showViolation.addEventListener('click', () => this.revealViolation());
    this.badge = h('p', { class: 'consistency', role: 'status', 'data-consistency': '0' });
    this.violations = h('ul', { class: 'violations' });
    this.counts = h('p', { class: 'counts' });
    const auto = (this.auto = h('input', { type: 'checkbox', id: 'auto-traffic', checked: true }));
    auto.addEventListener('change', () => void commands.setAutomaticRequests(auto.checked));
    const add = h('button', { type: 'button', 'data-action': 'client-add', text: 'Send “add 5”' });
    add.addEventListener('click', () => void commands.sendRequest({ op: 'add', amount: 5 }));
    const get = h('button', { type: 'button', 'data-action': 'client-get', text: 'Read total' });
    get.addEventListener('click', () => void commands.sendRequest({ op: 'get' }));
    // Answers with the guest's $RANDOM: two PCs differ, which compare mode must catch.
    const rand = h('button', { type: 'button', 'data-action': 'client-rand', text: 'Ask for a random number' });
    rand.addEventListener('click', () => void commands.sendRequest({ op: 'rand' }));
    this.auditButton = h('button', { type: 'button', 'data-action': 'audit', text: 'Audit the ledger' });
    this.auditButton.setAttribute('title', 'Ask the serving PC again for every reply the client was shown, and for its total: all must match');
    this.auditButton.addEventListener('click', () => void this.audit());
    this.auditResult = h('p', { class: 'audit', 'data-audit': '', 'aria-live': 'polite' });
    // Typed into the serving PC's console, where the learner sees it and the ledger's answer.
    const restart = h('button', { type: 'button', 'data-action': 'restart-ledger', text: 'Restart the ledger' });
    restart.setAttribute(
      'title',
      'End the ledger on the serving PC: the guest starts it again, and it reads its total and every reply back from its journal on the disk',
    );
    restart.addEventListener('click', () => {
      const serving = feed.pcIn(feed.state.serving);
      // A PC that ended as the button was clicked restarts nothing; the next one serves.
      if (serving) void commands.typeOnConsole(serving.pc, `${RESTART_LEDGER}\n`).catch(() => {});
    });
    const reboot = (this.reboot = new RebootControl(() => void commands.rebootGuest()));
    this.root = h(
      'section',
      { class: 'client-panel', 'aria-labelledby': 'client-title' },
      h('h2', { id: 'client-title', text: 'Client (ledger on ttyS1)' }),
      h('div', { class: 'row' }, this.badge, this.showViolation),
      this.violations,
      h('div', { class: 'row' }, h('label', {}, auto, ' automatic requests'), add, get, rand, this.auditButton, restart, reboot.button),
      this.auditResult,
      reboot.status,
      this.counts,
      this.list,
    );
    this.stops = [
      feed.onSent((request) => this.added(request)),
      feed.onAnswer((answer) => {
        const entry = this.entries.get(answer.id);
        if (!entry) return;
        entry.row.dataset.state = 'released';
        entry.status.textContent = `released after ${formatMs(answer.answeredAt - answer.sentAt)}${answer.attempts > 1 ? `, ${answer.attempts} tries` : ''}`;
        entry.reply.textContent = answer.reply;
      }),
    ];
    this.refresh();
  }

  /** The panel goes: its listeners with it. */
  dispose(): void {
    for (const stop of this.stops) stop();
  }

  onTrace(event: TraceEvent): void {
    if (event.kind === 'compare') {
      // A secondary reply the primary never wrote holds nothing of the client's back.
      if (event.primary === undefined) return;
      const entry = this.entries.get(event.primary.split(' ')[0] ?? '');
      if (!entry) return;
      entry.row.dataset.compare = event.verdict;
      entry.compare.textContent =
        event.verdict === 'mismatch' ? `${VERDICT_TEXT.mismatch} (secondary: “${event.secondary ?? ''}”)` : VERDICT_TEXT[event.verdict];
      return;
    }
    if (event.kind !== 'output' || event.state !== 'held') return;
    for (const line of event.lines) {
      const entry = this.entries.get(line.split(' ')[0] ?? '');
      if (!entry || entry.row.dataset.state === 'released') continue;
      entry.row.dataset.state = 'held';
      entry.status.textContent = `held in the primary until checkpoint #${event.checkpoint ?? '?'} is safe`;
      entry.reply.textContent = line;
    }
  }

  refresh(): void {
    if (!this.feed.ready) return;
    const { client, reboot } = this.feed.state;
    const report = client.summary;
    // Another tab may have changed it: shown when the service's word changes, not over a click on its way.
    if (client.automatic !== this.automatic) this.auto.checked = this.automatic = client.automatic;
    this.reboot.update(reboot);
    const bad = violationCount(report);
    this.badge.textContent = `Replies lost, contradicted or wrong: ${bad}`;
    this.badge.dataset.consistency = String(bad);
    this.showViolation.hidden = bad === 0;
    for (const { id } of report.findings) {
      if (id === undefined) continue;
      const entry = this.entries.get(id);
      if (!entry || this.pinned.has(id)) continue;
      this.pinned.add(id);
      entry.row.dataset.violation = 'true';
    }
    const refused = report.refused > 0 ? `, ${report.refused} fragments refused by the ledger` : '';
    this.counts.textContent = `${report.sent} sent, ${report.answered} answered, ${report.retries} retried (after a failover or 5 s of silence)${refused}`;
    this.violations.replaceChildren(...report.violations.slice(-3).map((v) => h('li', { text: v })));
  }

  /** The badge's link: the first reply a violation names, scrolled to and marked. */
  private revealViolation(): void {
    const id = [...this.pinned][0];
    const row = id === undefined ? undefined : this.entries.get(id)?.row;
    if (!row) return;
    for (const other of this.list.querySelectorAll('[data-revealed]')) other.removeAttribute('data-revealed');
    row.dataset.revealed = 'true';
    row.scrollIntoView({ block: 'center' });
  }

  // The serving PC is asked again for every answer the client was shown (a
  // stored reply comes back as it was) and for its total: the audit the
  // simulation and the tests run at the end, here on demand.
  private async audit(): Promise<void> {
    const { names, serving } = this.feed.state;
    const name = names[serving];
    this.auditButton.disabled = true;
    this.auditResult.dataset.audit = 'running';
    this.auditResult.textContent = `Asking ${name} again for every reply the client was shown…`;
    try {
      const found = await this.commands.auditLedger();
      const asked = this.feed.state.client.summary.answered;
      this.auditResult.dataset.audit = found.length === 0 ? 'ok' : 'failed';
      this.auditResult.textContent =
        found.length === 0
          ? `Audit of ${name}: its stored replies and its total match all ${asked} replies the client saw.`
          : `Audit of ${name} found ${found.length} differences: ${found.slice(0, 2).join('; ')}`;
    } catch (err) {
      this.auditResult.dataset.audit = 'failed';
      this.auditResult.textContent = `Audit of ${name} could not finish: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.auditButton.disabled = false;
      this.refresh();
    }
  }

  private added(request: ClientRequest): void {
    const status = h('span', { class: 'status', text: 'sent to the primary' });
    const reply = h('code', { class: 'reply' });
    const compare = h('span', { class: 'compare' });
    const op = request.operation.op === 'add' ? `add ${request.operation.amount}` : request.operation.op;
    const row = h('li', { 'data-state': 'sent', 'data-id': request.id }, h('code', { text: `${request.id} ${op}` }), reply, status, compare);
    this.entries.set(request.id, { row, status, reply, compare });
    this.list.prepend(row);
    // The oldest rows go, but not one a violation names.
    const rows = [...this.list.children] as HTMLElement[];
    for (let i = rows.length - 1; i >= 0 && this.list.children.length - this.pinned.size > MAX_ROWS; i--) {
      const row = rows[i];
      if (!row || this.pinned.has(row.dataset.id ?? '')) continue;
      this.entries.delete(row.dataset.id ?? '');
      row.remove();
    }
  }
}
