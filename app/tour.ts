// The guided tour: a card that walks through the handshake, output commit and
// failover, each step pointing at the live part of the page.

interface TourStep {
  target: string;
  title: string;
  text: string;
}

const STEPS: TourStep[] = [
  {
    target: '.vm-panel[data-side="primary"]',
    title: 'Two real PCs',
    text: 'Each panel is a whole x86 PC emulated by v86 in its own Web Worker, running Linux. PC A is the primary: it serves the client. Type in its console: it is a real shell.',
  },
  {
    target: '.vm-panel[data-side="secondary"]',
    title: 'The secondary waits',
    text: 'PC B never booted. It was built from the same booted snapshot as PC A, so checkpoint #1 brought only what PC A had changed since (see “Initial sync” under Measurements), and since then it stays paused, loading each new checkpoint (in compare mode it runs too: see below). Its VGA screen shows PC A as it was at the last checkpoint.',
  },
  {
    target: '.client-panel',
    title: 'A client with a ledger',
    text: 'The client adds amounts to a ledger running inside PC A (on its second serial port). Watch each reply: first “held” inside the primary, then “released”.',
  },
  {
    target: '.timeline-panel',
    title: 'One checkpoint, message by message',
    text: 'Every arrow is a COLO message between the two workers: checkpoint-request, checkpoint-reply, vmstate-send, vmstate-size (carrying the state), vmstate-received, vmstate-loaded. Red bars: the primary paused. Green bars: the secondary loading. Click any of them.',
  },
  {
    target: '[data-action="step-mode"]',
    title: 'Slow it down',
    text: 'Turn on step mode, then press “Step ▶” to let one message through at a time. Heartbeats keep flowing meanwhile (the small ticks on each lane), so nobody thinks the other side died. Or “Stop before” one message of every checkpoint, and kill, freeze or cut right there. Or pick a slow speed.',
  },
  {
    target: '#mode',
    title: 'Only what changed',
    text: 'Strict, the default, is QEMU’s COLO: a checkpoint sends only the 4 KiB pages of RAM and device state that changed since the last one (v86 marks each page the guest writes, and only those are compared), and PC A waits until PC B has loaded them. Watch the bytes per checkpoint under Measurements, then pick naive to see v86’s whole state (about 30 MB) every time and the pause it costs. Speculative resumes PC A before PC B has the state, as Remus does. The table under Measurements puts the three side by side.',
  },
  {
    target: '#policy',
    title: 'Compare mode: COLO proper',
    text: 'Let the secondary run too. Every request goes to both PCs; a reply leaves as soon as both wrote the same one, with no checkpoint at all. Ask for a random number: the PCs answer differently, the primary notices, and a checkpoint (named “mismatch” on the timeline) brings PC B back in step before the reply leaves.',
  },
  {
    target: '.client-panel',
    title: 'Output commit',
    text: 'A reply is released only after vmstate-received of the checkpoint that covers it. So whatever the client has seen, the secondary already holds: a failover can never take it back.',
  },
  {
    target: '[data-action="reboot-guest"]',
    title: 'Block replication: a disk that survives too',
    text: 'The ledger writes every reply to a journal on its PC’s disk and syncs it before the reply leaves. The disk is replicated like RAM: v86 marks each disk page the guest writes, and each checkpoint carries those pages in a part of its own (the ladder and “The disk” in the measurements count them), applied with undo like the rest; a failover keeps the journal exactly as far as the checkpoint covers. In compare mode the secondary’s own disk writes are put back before a checkpoint applies, as QEMU throws away its hidden disk. “Reboot the guest” reboots the serving PC: BIOS, kernel and init run again, RAM starts afresh, and the ledger reads its total and every reply back from the disk — try it after a failover.',
  },
  {
    target: '[data-action="kill-primary"]',
    title: 'Kill the primary',
    text: 'Press it. The primary’s worker is terminated. The secondary notices the missing heartbeats and tells the host; the host, which ended that worker, tells it to take over from its last complete checkpoint, and the client retries its unanswered request. The badge must stay at 0. Your shell goes on in PC B’s console, from the checkpoint it resumed. A new PC starts in standby at once, so “Start a new secondary” protects the survivor again within a moment.',
  },
  {
    target: '.scrub',
    title: 'Go back in time',
    text: 'Drag the slider, or step “◀ checkpoint”, to stop the timeline at any moment of the last several hundred checkpoints while the PCs run on: the ladder shows that checkpoint, with the replies it held and released. “Last failover” jumps to the takeover. “Save this run” keeps it all as a file; “Open a saved run” scrubs it later, without the PCs.',
  },
  {
    target: '.controls .danger',
    title: 'Freeze, cut, kill',
    text: 'A frozen primary is alive but silent: only heartbeats reveal it. A cut link makes both sides suspect each other; the host is the witness: it pings both, both answer, so at first it only waits. Once the link has stayed silent for a second it has failed, and the host keeps the primary, fencing the secondary, because two primaries would contradict each other.',
  },
  {
    target: '[data-tab-runs]',
    title: 'Pull the plug: two tabs',
    text: '“Open a two-tab run” moves the host into a worker the tabs share; there, “Move the secondary to a new tab” gives the secondary a window of its own. Close the primary’s tab: its PC dies with it, as if its plug were pulled, and the other tab’s PC takes over.',
  },
  {
    target: 'label.unsafe',
    title: 'Why wait? Unsafe mode',
    text: 'Reload, tick unsafe mode and kill the primary: replies now leave before any checkpoint covers them, and after failover the ledger total goes back. The badge turns red. That is what output commit prevents.',
  },
];

export class Tour {
  private index = 0;
  /** The tour's card: the page places it. */
  readonly root: HTMLElement;
  private readonly title: HTMLElement;
  private readonly text: HTMLElement;
  private readonly counter: HTMLElement;
  private readonly next: HTMLButtonElement;

  constructor() {
    this.title = document.createElement('h2');
    this.text = document.createElement('p');
    this.counter = document.createElement('span');
    const back = this.button('Back', () => this.go(this.index - 1));
    const next = this.button('Next', () => this.go(this.index + 1));
    this.next = next;
    const close = this.button('Close tour', () => this.close());
    this.root = document.createElement('aside');
    this.root.className = 'tour';
    this.root.setAttribute('role', 'dialog');
    this.root.setAttribute('aria-live', 'polite');
    this.root.setAttribute('aria-label', 'Guided tour');
    this.root.hidden = true;
    const nav = document.createElement('div');
    nav.append(back, this.counter, next, close);
    this.root.append(this.title, this.text, nav);
    this.root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
  }

  open(): void {
    this.root.hidden = false;
    this.go(0);
  }

  private go(index: number): void {
    if (index < 0 || index >= STEPS.length) return;
    this.index = index;
    const step = STEPS[index];
    if (!step) return;
    document.querySelector('.tour-target')?.classList.remove('tour-target');
    const target = document.querySelector(step.target);
    target?.classList.add('tour-target');
    target?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    this.title.textContent = step.title;
    this.text.textContent = step.text;
    this.counter.textContent = `${index + 1} / ${STEPS.length}`;
    this.next.focus();
  }

  private close(): void {
    this.root.hidden = true;
    document.querySelector('.tour-target')?.classList.remove('tour-target');
  }

  private button(label: string, action: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', action);
    return b;
  }
}
