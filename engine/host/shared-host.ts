// The host of a two-tab run, shared by the tabs so that it outlives either:
// the service (service.ts) with PCs that run in the tabs. A tab that joins is
// told what happens, may ask what any page may ask, and runs the PCs the host
// asks it for (a shared worker cannot start workers in Chromium): at the
// pair's start the tab that started it, after that a tab that runs no PC yet,
// so no tab holds both PCs of a pair once it was split. Closing a tab ends
// the PCs it runs, as pulling a plug would: the host learns it as it would of
// any failure. The ports and comlink are the entry's (app/tabs/host.shared-worker.ts).
import { ClusterService, type ServiceOptions, type ServicePc } from './service.ts';
import { perform, type ClusterCommand, type ClusterUpdate } from './surface.ts';
import { realClock, type Clock } from '../replication/ports.ts';

/** A tab, as the host reaches it. */
export interface TabLink<N> {
  /** Starts a PC's worker in this tab; resolves with the host's handle on it. */
  spawn(): Promise<N>;
  /** What happened, for this tab's page. */
  update(update: ClusterUpdate): void;
}

/** What a joined tab may ask: everything a page may (as data), and to leave. */
export interface TabConnection {
  readonly tab: number;
  /** A page's command (surface.ts): the same a page in one tab calls directly. */
  dispatch(command: ClusterCommand): Promise<unknown>;
  /** The tab is going (its page hides): its PCs end with it. */
  leave(): void;
}

/** What each pair's service is given (its PCs and their assets come from the tabs). */
export interface SharedHostOptions<N extends ServicePc> extends Omit<ServiceOptions<N>, 'spawn' | 'assetBase' | 'tabOf' | 'spareWaitsFor' | 'updateEveryMs'> {
  /** How long a tab may take to start a PC's worker before it is taken for closed. */
  spawnTimeoutMs?: number;
  /** How long a spare may wait for a tab to run in before the host asks for another. */
  spareWaitMs?: number;
}

/** Pages are updated at most this often (their views refresh every 200 ms). */
const UPDATE_EVERY_MS = 50;
const SPAWN_TIMEOUT_MS = 15_000;
const SPARE_WAITS_FOR_A_TAB_MS = 10 * 60_000;

interface Tab<N> {
  id: number;
  link: TabLink<N>;
  gone: boolean;
  stopWatching: () => void;
}

export class SharedHost<N extends ServicePc> {
  private service: ClusterService<N> | undefined;
  private readonly tabs = new Map<number, Tab<N>>();
  private tabCount = 0;
  /** The tab each PC runs in. */
  private readonly tabOf = new Map<N, number>();
  /** The tab whose page started the pair: both its PCs start there (a page cannot open a second tab by itself). */
  private startingIn: Tab<N> | undefined;
  private readonly tabJoined = new Set<(tab: Tab<N>) => void>();
  private readonly clock: Clock;

  constructor(private readonly options: SharedHostOptions<N>) {
    this.clock = options.clock ?? realClock;
  }

  /** A tab joins: it is told what happens from now on; a pair that is over, or none yet, starts afresh in it. */
  join(link: TabLink<N>, assetBase: string): TabConnection {
    const tab: Tab<N> = { id: ++this.tabCount, link, gone: false, stopWatching: () => {} };
    this.tabs.set(tab.id, tab);
    for (const joined of [...this.tabJoined]) joined(tab);
    const service = this.service;
    const state = service?.state();
    // A pair that can no longer serve (both tabs closed, or both PCs failed) is over: the next page starts afresh.
    if (!service || !state || state.serviceLost !== undefined || state.startError !== undefined) this.startPair(tab, assetBase);
    else tab.stopWatching = service.watch((update) => tab.link.update(update));
    return this.connection(tab);
  }

  /** The service of the pair now (for tests). */
  get current(): ClusterService<N> | undefined {
    return this.service;
  }

  private connection(tab: Tab<N>): TabConnection {
    return {
      tab: tab.id,
      dispatch: (command) => {
        if (!this.service) return Promise.reject(new Error('no pair yet'));
        return perform(this.service, command);
      },
      leave: () => this.leave(tab),
    };
  }

  private leave(tab: Tab<N>): void {
    if (tab.gone) return;
    tab.gone = true;
    tab.stopWatching();
    this.tabs.delete(tab.id);
    // Its PCs died with it. The pair learns so the way it learns of any failure; the host only notes they will not answer.
    for (const [node, id] of this.tabOf) {
      if (id === tab.id && node.alive) this.service?.cluster.workerEnded(node, `the tab that ran it closed`);
    }
  }

  private startPair(tab: Tab<N>, assetBase: string): void {
    this.service?.dispose();
    this.tabOf.clear();
    // A PC of the old pair still waiting for a tab waits no more: the next tab is the new pair's.
    this.tabJoined.clear();
    const { spareWaitMs, ...given } = this.options;
    const service: ClusterService<N> = new ClusterService<N>({
      ...given,
      spawn: (name) => this.spawn(service, name),
      assetBase,
      clock: this.clock,
      updateEveryMs: UPDATE_EVERY_MS,
      // A spare here waits for a tab a person opens.
      timing: { ...given.timing, spareStartMs: spareWaitMs ?? SPARE_WAITS_FOR_A_TAB_MS },
      tabOf: (node) => this.tabOf.get(node),
      spareWaitsFor: () => (this.tabJoined.size > 0 ? 'a tab that runs no PC (start it in a new tab)' : undefined),
    });
    this.service = service;
    // Every tab starts over with the new pair.
    for (const open of this.tabs.values()) {
      open.stopWatching();
      open.stopWatching = service.watch((update) => open.link.update(update));
    }
    this.startingIn = tab;
    service.start().then(
      () => (this.startingIn = undefined),
      () => (this.startingIn = undefined),
    );
  }

  /** A worker for PC `name`, started by a tab (see the top of this file). */
  private async spawn(service: ClusterService<N>, name: string): Promise<N> {
    const tab = this.startingIn ?? (await this.tabWithoutPc());
    if (service !== this.service) throw new Error(`a new pair started before ${name} had a tab`);
    if (tab.gone) throw new Error(`the tab for ${name} closed`);
    let cancel = () => {};
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.clock.after(this.options.spawnTimeoutMs ?? SPAWN_TIMEOUT_MS, () => {
        this.leave(tab);
        reject(new Error(`tab ${tab.id} did not start ${name}'s worker in time`));
      });
    });
    try {
      const node = await Promise.race([tab.link.spawn(), timeout]);
      this.tabOf.set(node, tab.id);
      return node;
    } finally {
      cancel();
    }
  }

  /** The newest open tab that runs no PC, or the next tab to join. */
  private tabWithoutPc(): Promise<Tab<N>> {
    const busy = new Set([...this.tabOf].filter(([node]) => node.alive).map(([, tab]) => tab));
    const free = [...this.tabs.values()].filter((tab) => !busy.has(tab.id)).at(-1);
    if (free) return Promise.resolve(free);
    this.service?.stateChanged();
    return new Promise((resolve) => {
      const joined = (tab: Tab<N>) => {
        this.tabJoined.delete(joined);
        this.service?.stateChanged();
        resolve(tab);
      };
      this.tabJoined.add(joined);
    });
  }
}
