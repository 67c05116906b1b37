// The host of a two-tab run, in a SharedWorker so that it outlives either tab:
// it drives the pair (arbitration and fencing, the client, the trace) and keeps
// every tab's page current. The PCs' workers run in the tabs, because a
// SharedWorker cannot start workers in Chromium: the host asks a tab for one
// and gets a port straight to it, and the two PCs of a pair talk over their
// own MessageChannel whose ends it hands them. Closing a tab ends the PCs it
// runs, as pulling a plug would: the host hears of it as it would of any
// failure, from the survivor's heartbeats and from a PC that stops answering.
import { ColoCluster, type ClusterRecord } from '../../engine/host/cluster.ts';
import type { ClientAnswer, ClientRequest } from '../../engine/host/ledger-client.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';
import type { MachineEvent } from '../../engine/vm/machine-api.ts';
import { portedVmHandle } from '../../engine/worker/ported-vm.ts';
import type { VmHandle } from '../../engine/worker/vm-handle.ts';
import { DemoTraffic } from '../demo-traffic.ts';
import type { HostAction, HostMessage, HostState, HostUpdate, PcInfo, TabMessage } from './host-messages.ts';

/** Pages are updated at most this often (their views refresh every 200 ms). */
const UPDATE_EVERY_MS = 50;
/** A tab that has not started a PC's worker this long after being asked is taken for closed. */
const SPAWN_TIMEOUT_MS = 15_000;
/** The client's recent requests a tab that opens later is shown. */
const RECENT_REQUESTS = 50;
/** How long a spare may wait for a tab to run in before the host gives it up and asks for another. */
const SPARE_WAITS_FOR_A_TAB_MS = 10 * 60_000;

/** What has happened since a tab's last update. */
interface Pending {
  records: ClusterRecord[];
  serial: { pc: number; text: string }[];
  sent: ClientRequest[];
  answers: ClientAnswer[];
}

class Tab {
  gone = false;
  pending: Pending = { records: [], serial: [], sent: [], answers: [] };
  caughtUp = false;

  constructor(
    readonly id: number,
    readonly port: MessagePort,
  ) {}

  post(message: HostMessage, transfer: Transferable[] = []): void {
    if (!this.gone) this.port.postMessage(message, transfer);
  }
}

interface Pc {
  info: PcInfo;
  handle: VmHandle;
}

export class SharedHost {
  private cluster: ColoCluster<VmHandle> | undefined;
  private traffic: DemoTraffic | undefined;
  private started = false;
  private startError: string | undefined;
  private readonly tabs = new Map<number, Tab>();
  private tabCount = 0;
  private readonly pcs = new Map<number, Pc>();
  private readonly pcOf = new WeakMap<VmHandle, number>();
  private pcCount = 0;
  private readonly spawning = new Map<number, (port: MessagePort) => void>();
  /** The tab whose page started the pair: both its PCs start there (a page cannot open a second tab by itself). */
  private startingIn: Tab | undefined;
  /** A PC waits for a tab to open: the page offers to open one. */
  private waitingForTab = false;
  private readonly tabJoined = new Set<(tab: Tab) => void>();
  private recent: { request: ClientRequest; answer?: ClientAnswer }[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private stopCluster: () => void = () => {};

  connect(port: MessagePort): void {
    const tab = new Tab(++this.tabCount, port);
    port.onmessage = (event: MessageEvent<TabMessage>) => this.onMessage(tab, event.data);
    port.start();
  }

  private onMessage(tab: Tab, message: TabMessage): void {
    switch (message.type) {
      case 'join':
        this.join(tab, message.assetBase);
        return;
      case 'call':
        void this.act(message.action).then(
          (value) => tab.post({ type: 'result', call: message.call, value }),
          (err: unknown) => tab.post({ type: 'result', call: message.call, error: err instanceof Error ? err.message : String(err) }),
        );
        return;
      case 'spawned':
        this.spawning.get(message.pc)?.(message.port);
        this.spawning.delete(message.pc);
        return;
      case 'bye':
        this.leave(tab);
        return;
    }
  }

  private join(tab: Tab, assetBase: string): void {
    this.tabs.set(tab.id, tab);
    for (const joined of this.tabJoined) joined(tab);
    // A pair that can no longer serve (both tabs closed, or both PCs failed) is over: the next page starts afresh.
    if (!this.cluster || this.cluster.serviceLost !== undefined || this.startError !== undefined) this.startPair(tab, assetBase);
    this.schedule();
  }

  private leave(tab: Tab): void {
    tab.gone = true;
    this.tabs.delete(tab.id);
    // Its PCs died with it. The pair learns so the way it learns of any failure; the host only notes they will not answer.
    for (const pc of this.pcs.values()) {
      if (pc.info.tab !== tab.id || !pc.info.alive) continue;
      pc.info.alive = false;
      this.cluster?.workerEnded(pc.handle, `the tab that ran ${pc.info.name} closed`);
    }
    this.schedule();
  }

  private startPair(tab: Tab, assetBase: string): void {
    this.stopCluster();
    this.cluster?.dispose();
    this.traffic?.setAuto(false);
    this.pcs.clear();
    this.recent = [];
    this.started = false;
    this.startError = undefined;
    // A PC of the old pair still waiting for a tab waits no more: the next tab is the new pair's.
    this.tabJoined.clear();
    this.waitingForTab = false;
    const cluster: ColoCluster<VmHandle> = new ColoCluster<VmHandle>({
      spawn: (name): Promise<VmHandle> => this.spawn(cluster, name),
      assetBase,
      replication: DEFAULT_REPLICATION,
      // A spare here waits for a tab a person opens.
      spareStartMs: SPARE_WAITS_FOR_A_TAB_MS,
    });
    const traffic = new DemoTraffic(cluster);
    this.cluster = cluster;
    this.traffic = traffic;
    const stops = [
      cluster.subscribe(() => this.schedule()),
      cluster.onRecord((record) => this.queue((pending) => pending.records.push(record))),
      cluster.client.onAnswer((answer) => {
        const entry = this.recent.find((r) => r.request.id === answer.id);
        if (entry) entry.answer = answer;
        this.queue((pending) => pending.answers.push(answer));
      }),
    ];
    traffic.onSent((request) => {
      this.recent = [...this.recent.slice(1 - RECENT_REQUESTS), { request }];
      this.queue((pending) => pending.sent.push(request));
    });
    this.stopCluster = () => stops.forEach((stop) => stop());
    // Every tab starts over with the new pair.
    for (const open of this.tabs.values()) open.caughtUp = false;
    this.startingIn = tab;
    cluster.start().then(
      () => {
        this.startingIn = undefined;
        this.started = true;
        traffic.start();
        this.schedule();
      },
      (err: unknown) => {
        this.startingIn = undefined;
        this.startError = err instanceof Error ? err.message : String(err);
        this.schedule();
      },
    );
  }

  /**
   * A worker for PC `name`, started by a tab: at the pair's start the tab that
   * started it, after that a tab that runs no PC yet — the newest, or the next
   * to open — so that no tab holds both PCs of a pair once it was split.
   */
  private async spawn(cluster: ColoCluster<VmHandle>, name: string): Promise<VmHandle> {
    const tab = this.startingIn ?? (await this.tabWithoutPc());
    if (cluster !== this.cluster) throw new Error(`a new pair started before ${name} had a tab`);
    if (tab.gone) throw new Error(`the tab for ${name} closed`);
    const pc = ++this.pcCount;
    const port = await new Promise<MessagePort>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.spawning.delete(pc);
        this.leave(tab);
        reject(new Error(`tab ${tab.id} did not start ${name}'s worker within ${SPAWN_TIMEOUT_MS / 1000} s`));
      }, SPAWN_TIMEOUT_MS);
      this.spawning.set(pc, (port) => (clearTimeout(timer), resolve(port)));
      tab.post({ type: 'spawn', pc });
    });
    const info: PcInfo = { pc, name, tab: tab.id, alive: true };
    const handle = portedVmHandle(port, {
      terminate: () => {
        info.alive = false;
        tab.post({ type: 'end', pc });
      },
    });
    this.pcs.set(pc, { info, handle });
    this.pcOf.set(handle, pc);
    handle.subscribe((events: MachineEvent[]) => {
      const text = events.flatMap((event) => (event.type === 'serial' && event.port === 0 ? [event.text] : [])).join('');
      if (text) this.queue((pending) => pending.serial.push({ pc, text }));
    });
    return handle;
  }

  /** The newest open tab that runs no PC, or the next tab to join. */
  private tabWithoutPc(): Promise<Tab> {
    const busy = new Set([...this.pcs.values()].filter((pc) => pc.info.alive).map((pc) => pc.info.tab));
    const free = [...this.tabs.values()].filter((tab) => !busy.has(tab.id)).at(-1);
    if (free) return Promise.resolve(free);
    this.waitingForTab = true;
    return new Promise((resolve) => {
      const joined = (tab: Tab) => {
        this.tabJoined.delete(joined);
        this.waitingForTab = false;
        resolve(tab);
      };
      this.tabJoined.add(joined);
    });
  }

  private async act(action: HostAction): Promise<unknown> {
    const cluster = this.cluster;
    if (!cluster) throw new Error('no pair yet');
    switch (action.kind) {
      case 'configure':
        return cluster.configure(action.change, action.side);
      case 'set-auto-reprotect':
        return cluster.setAutoReprotect(action.on);
      case 'reprotect':
        return cluster.reprotect();
      case 'move-secondary':
        return cluster.moveSecondary();
      case 'checkpoint-now':
        return cluster.checkpointNow();
      case 'step':
        return cluster.step();
      case 'failover':
        return cluster.failover();
      case 'kill':
        return action.side === 'primary' ? cluster.killPrimary() : cluster.killSecondary();
      case 'freeze-primary':
        return cluster.freezePrimary();
      case 'cut-link':
        return cluster.cutLink();
      case 'audit':
        return cluster.auditLedger();
      case 'traffic-auto':
        this.traffic?.setAuto(action.on);
        this.schedule();
        return undefined;
      case 'traffic-send':
        return this.traffic?.send(action.operation);
      case 'send-serial':
        return this.handle(action.pc).machine.sendSerial(action.port, action.data);
      case 'read':
        return this.handle(action.pc).machine[action.what]();
      case 'arm-reboot':
        return cluster.armReboot();
    }
  }

  private handle(pc: number): VmHandle {
    const handle = this.pcs.get(pc)?.handle;
    if (!handle?.alive) throw new Error(`PC ${pc} is not running`);
    return handle;
  }

  private queue(add: (pending: Pending) => void): void {
    for (const tab of this.tabs.values()) if (tab.caughtUp) add(tab.pending);
    this.schedule();
  }

  private schedule(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, UPDATE_EVERY_MS);
  }

  private flush(): void {
    const cluster = this.cluster;
    if (!cluster) return;
    const state = this.state(cluster);
    for (const tab of this.tabs.values()) {
      const update = tab.caughtUp ? this.since(tab, state) : this.catchUp(tab, cluster, state);
      tab.pending = { records: [], serial: [], sent: [], answers: [] };
      tab.caughtUp = true;
      tab.post({ type: 'update', update });
    }
  }

  private since(tab: Tab, state: HostState): HostUpdate {
    const { records, serial, sent, answers } = tab.pending;
    return {
      state,
      catchUp: false,
      trace: records.flatMap((r) => (r.kind === 'trace' ? [r.event] : [])),
      heartbeats: records.flatMap((r) => (r.kind === 'heartbeats' ? [{ side: r.side, sent: r.sent }] : [])),
      serial,
      sent,
      answers,
    };
  }

  private catchUp(tab: Tab, cluster: ColoCluster<VmHandle>, state: HostState): HostUpdate {
    const serial = [...this.pcs.values()].map(({ info, handle }) => ({ pc: info.pc, text: handle.transcript(0) }));
    return {
      state,
      tab: tab.id,
      catchUp: true,
      trace: [...cluster.trace],
      heartbeats: (['primary', 'secondary'] as const).map((side) => ({ side, sent: [...cluster.heartbeatsSent(side)] })),
      serial,
      sent: this.recent.map((r) => r.request),
      answers: this.recent.flatMap((r) => (r.answer ? [r.answer] : [])),
    };
  }

  private state(cluster: ColoCluster<VmHandle>): HostState {
    const roleOf = (handle: VmHandle | undefined) => (handle ? this.pcOf.get(handle) : undefined);
    const primary = roleOf(cluster.primary);
    const secondary = roleOf(cluster.secondary);
    return {
      started: this.started,
      ...(this.startError !== undefined ? { startError: this.startError } : {}),
      status: { ...cluster.status },
      serving: cluster.serving,
      fate: { ...cluster.fate },
      names: { ...cluster.names },
      config: cluster.config,
      protected: cluster.protected,
      canReprotect: cluster.canReprotect,
      serviceLost: cluster.serviceLost,
      falseFailovers: cluster.falseFailovers,
      dismissedSuspicions: cluster.dismissedSuspicions,
      spare: cluster.spare,
      roles: { ...(primary !== undefined ? { primary } : {}), ...(secondary !== undefined ? { secondary } : {}) },
      pcs: [...this.pcs.values()].map((pc) => ({ ...pc.info })),
      client: { summary: cluster.client.summary(), pending: cluster.client.pending },
      trafficAuto: this.traffic?.isAuto ?? false,
      waitingForTab: this.waitingForTab,
    };
  }
}
