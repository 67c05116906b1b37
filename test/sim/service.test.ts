// The service as a page uses it, through its feed and its commands, in both of
// its deployments: in the page's own tab (ClusterService watched directly), and
// shared by tabs (SharedHost, each tab with its feed and the commands sent as
// data). The same scenarios run on both, on simulated PCs and virtual time;
// then what only two tabs have: closing a tab, and a tab that joins later.
import { describe, expect, it } from 'vitest';
import { ClusterFeed } from '../../engine/host/feed.ts';
import { ClusterService } from '../../engine/host/service.ts';
import { SharedHost, type TabConnection } from '../../engine/host/shared-host.ts';
import { commandsVia, type ClusterCommands } from '../../engine/host/surface.ts';
import { OPEN_GATE, type ReplicationConfig } from '../../engine/replication/config.ts';
import { StateRegistry } from './fake-guest.ts';
import { SimNetwork } from './network.ts';
import { SimScheduler, seededRandom } from './scheduler.ts';
import { SimNode } from './sim-node.ts';
import { settled, until } from './virtual-time.ts';

const REPLICATION: ReplicationConfig = {
  mode: 'strict',
  compare: { enabled: false, timeoutMs: 300 },
  periodMs: 100,
  heartbeat: { intervalMs: 40, missLimit: 3, busyMs: 300 },
  gate: OPEN_GATE,
  outputCommit: 'hold',
  verify: false,
  writeTracking: true,
};
const TIMING = { pingTimeoutMs: 100, linkFailureMs: 400, takeoverMs: 600, leaveMs: 300, spareStartMs: 1000 };

/** Simulated PCs on one virtual clock and network. */
function simWorld(seed: number) {
  const scheduler = new SimScheduler();
  const random = seededRandom(seed);
  const network = new SimNetwork(scheduler, random, { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 1, reorder: false });
  const registry = new StateRegistry();
  let made = 0;
  const pc = (name: string) => {
    const traits = { bytesPerTick: 8, clockSkewMs: 0, refuseLoads: 0, stopMs: 1, loadMs: 0, randomSeed: seed * 31 + made++, bootMs: made > 2 ? 50 : 0 };
    return new SimNode(scheduler, registry, name, traits, () => random() * 2);
  };
  const channel = () => network.channel() as unknown as [MessagePort, MessagePort];
  return { scheduler, pc, channel };
}

/** One page's way to the service: what it reads, and what it may ask. */
interface Page {
  feed: ClusterFeed;
  commands: ClusterCommands;
}

interface Deployment {
  scheduler: SimScheduler;
  page: Page;
  end(): void;
}

const DEPLOYMENTS: { name: string; open(seed: number): Deployment }[] = [
  {
    name: 'in one tab',
    open(seed) {
      const { scheduler, pc, channel } = simWorld(seed);
      const service = new ClusterService<SimNode>({
        spawn: pc,
        assetBase: '',
        replication: REPLICATION,
        clock: scheduler,
        channel,
        timing: TIMING,
        clientRetryMs: 300,
      });
      const feed = new ClusterFeed(scheduler);
      service.watch((update) => feed.apply(update));
      void service.start().catch(() => {});
      return { scheduler, page: { feed, commands: service }, end: () => service.dispose() };
    },
  },
  {
    name: 'shared by two tabs',
    open(seed) {
      const tabs = twoTabs(seed);
      return { scheduler: tabs.scheduler, page: tabs.pages[0] as Page, end: tabs.end };
    },
  },
];

/** A shared host and two tabs that join it, each running the PCs the host asks it for. */
function twoTabs(seed: number) {
  const { scheduler, pc, channel } = simWorld(seed);
  const host = new SharedHost<SimNode>({ replication: REPLICATION, clock: scheduler, channel, timing: TIMING, clientRetryMs: 300, spareWaitMs: 5000 });
  const runs = new Map<number, SimNode[]>();
  const pages: (Page & { tab: number; connection: TabConnection; runs: () => SimNode[] })[] = [];
  const join = () => {
    const feed = new ClusterFeed(scheduler);
    const mine: SimNode[] = [];
    let name = 0;
    const connection = host.join(
      {
        spawn: async () => {
          const node = pc(`tab PC ${++name}`);
          mine.push(node);
          return node;
        },
        update: (update) => feed.apply(update),
      },
      '',
    );
    runs.set(connection.tab, mine);
    const page = {
      feed,
      commands: commandsVia((command) => connection.dispatch(command)),
      tab: connection.tab,
      connection,
      runs: () => mine.filter((n) => n.alive),
    };
    pages.push(page);
    return page;
  };
  join();
  join();
  return { scheduler, pages, join, end: () => host.current?.dispose() };
}

const state = (page: Page) => page.feed.state;
const ready = (page: Page) => page.feed.ready;

describe.each(DEPLOYMENTS)('the service, $name', (deployment) => {
  it('protects, fails over from a killed primary with nothing lost, and re-protects the survivor', async () => {
    const { scheduler, page, end } = deployment.open(1);
    await until(scheduler, () => ready(page) && state(page).protected, 3000, 'protected');
    await until(scheduler, () => state(page).client.summary.answered >= 3, 3000, 'three answers');
    const before = state(page).names.secondary;
    await settled(scheduler, page.commands.kill('primary'));
    await until(scheduler, () => state(page).serving === 'secondary', 3000, 'failed over');
    expect(state(page).names.secondary).toBe(before);
    await until(scheduler, () => state(page).canReprotect && !!state(page).spare?.ready, 3000, 'a spare ready');
    await settled(scheduler, page.commands.reprotect(), 3000);
    await until(scheduler, () => state(page).protected, 3000, 'protected again');
    expect(state(page).names.primary).toBe(before);
    expect(await settled(scheduler, page.commands.auditLedger(), 5000)).toEqual([]);
    expect(state(page).client.summary.violations).toEqual([]);
    // What happened reached the page: the trace, and the client's history.
    expect(page.feed.trace.some((e) => e.kind === 'host' && e.action === 'primary-changed')).toBe(true);
    end();
  });

  it('moves the secondary make-before-break: the old secondary protects until the new one holds a checkpoint, and the pair is never unprotected', async () => {
    const { scheduler, page, end } = deployment.open(2);
    await until(scheduler, () => ready(page) && state(page).protected, 3000, 'protected');
    const old = state(page).names.secondary;
    const from = page.feed.trace.length;
    await settled(scheduler, page.commands.moveSecondary(), 5000);
    await until(scheduler, () => state(page).names.secondary !== old, 3000, 'the page told of the new secondary');
    expect(state(page).protected).toBe(true);
    // The spare started while the old secondary protected; it became the secondary; the old one retired only then.
    const actions = page.feed.trace.slice(from).flatMap((e) => (e.kind === 'host' ? [e.action] : []));
    expect(actions.indexOf('spare')).toBeGreaterThanOrEqual(0);
    expect(actions.indexOf('spare')).toBeLessThan(actions.indexOf('hand-over'));
    expect(actions.indexOf('hand-over')).toBeLessThan(actions.indexOf('retire-secondary'));
    // Never unprotected: the host says "protected" only when protection comes back after a lapse.
    expect(actions).not.toContain('protected');
    expect(actions).not.toContain('suspect');
    end();
  });

  it('a move whose primary fails before the new secondary holds a checkpoint: the old secondary takes over, and nothing released is lost', async () => {
    const { scheduler, page, end } = deployment.open(3);
    await until(scheduler, () => ready(page) && state(page).protected, 3000, 'protected');
    const old = state(page).names.secondary;
    for (let i = 0; i < 3; i++) await settled(scheduler, page.commands.sendRequest({ op: 'add', amount: i + 1 }));
    // The new secondary holds its checkpoint-ready at its gate: checkpoint 1 of the new pair cannot begin.
    await settled(scheduler, page.commands.configure({ gate: { step: false, breakBefore: ['checkpoint-ready'] } }, 'secondary'));
    const moving = page.commands.moveSecondary().catch(() => {});
    await until(scheduler, () => page.feed.trace.some((e) => e.kind === 'host' && e.action === 'hand-over'), 3000, 'the hand-over');
    expect(state(page).protected).toBe(true);
    await settled(scheduler, page.commands.kill('primary'));
    await settled(scheduler, moving, 20_000);
    await until(scheduler, () => state(page).serving === 'secondary', 5000, 'failed over');
    expect(state(page).names.secondary).toBe(old);
    expect(await settled(scheduler, page.commands.auditLedger(), 5000)).toEqual([]);
    expect(state(page).client.summary.violations).toEqual([]);
    end();
  });

  // The page reads a PC its feed still shows; the host may have ended it a moment before: a rejection, not a throw in the page's timer.
  it('answers a reading or a key for a PC that ended with a rejection that names it', async () => {
    const { scheduler, page, end } = deployment.open(6);
    await until(scheduler, () => ready(page) && state(page).protected, 3000, 'protected');
    const killed = page.feed.pcIn('primary')?.pc ?? 0;
    await settled(scheduler, page.commands.kill('primary'));
    let reading: Promise<unknown> | undefined;
    expect(() => (reading = page.commands.read(killed, 'instructionCount'))).not.toThrow();
    await expect(reading).rejects.toThrow(`PC ${killed} is not running`);
    await expect(page.commands.typeOnConsole(killed, '\n')).rejects.toThrow(`PC ${killed} is not running`);
    end();
  });

  it('reboots the serving guest: its ledger reads its journal back, and the page is told how far it went', async () => {
    const { scheduler, page, end } = deployment.open(3);
    await until(scheduler, () => ready(page) && state(page).protected && state(page).client.summary.answered >= 2, 3000, 'protected, with answers');
    await settled(scheduler, page.commands.setAutomaticRequests(false));
    await until(scheduler, () => !state(page).client.pending, 3000, 'nothing outstanding');
    await settled(scheduler, page.commands.rebootGuest(), 5000);
    await until(scheduler, () => state(page).reboot.kind === 'done', 3000, 'rebooted');
    const reboot = state(page).reboot;
    expect(reboot).toMatchObject({ kind: 'done', name: 'PC A', line: expect.stringMatching(/^ledger: ready \(\d+ replies from the journal, total \d+\)$/) });
    expect(await settled(scheduler, page.commands.auditLedger(), 5000)).toEqual([]);
    end();
  });

  it('injects a fault chosen with a breakpoint once, when the handshake first stops there', async () => {
    const { scheduler, page, end } = deployment.open(4);
    await until(scheduler, () => ready(page) && state(page).protected, 3000, 'protected');
    await settled(scheduler, page.commands.setBreakFault('kill-primary'));
    await settled(scheduler, page.commands.configure({ gate: { step: false, breakBefore: ['vmstate-received'] } }));
    await until(scheduler, () => state(page).breakFault?.injectedAt !== undefined, 3000, 'the fault injected');
    await settled(scheduler, page.commands.configure({ gate: OPEN_GATE }));
    await until(scheduler, () => state(page).serving === 'secondary', 3000, 'failed over');
    expect(state(page).fate.primary).toBe('killed');
    end();
  });
});

describe('the service shared by two tabs', () => {
  it("runs the first pair in the first tab, moves the secondary to the other, and fails over when the primary's tab closes", async () => {
    const { scheduler, pages, end } = twoTabs(5);
    const [first, second] = pages as [(typeof pages)[number], (typeof pages)[number]];
    await until(scheduler, () => ready(first) && state(first).protected, 3000, 'protected');
    expect(first.runs().length).toBe(2);
    const old = state(first).names.secondary;
    await settled(scheduler, first.commands.moveSecondary(), 5000);
    await until(scheduler, () => state(first).protected && state(first).names.secondary !== old, 3000, 'protected again by a new secondary');
    expect(second.runs().length).toBe(1);
    expect(
      state(second)
        .pcs.filter((pc) => pc.tab === second.tab && pc.alive)
        .map((pc) => pc.name),
    ).toEqual([state(first).names.secondary]);
    // The primary's tab closes: its PCs end with it, and the other tab's PC takes over.
    for (const node of first.runs()) node.vanish();
    first.connection.leave();
    await until(scheduler, () => state(second).serving === 'secondary', 3000, 'failed over to the other tab');
    expect(await settled(scheduler, second.commands.auditLedger(), 5000)).toEqual([]);
    end();
  });

  it('tells a tab that joins later everything kept so far', async () => {
    const { scheduler, pages, join, end } = twoTabs(6);
    const first = pages[0] as (typeof pages)[number];
    await until(scheduler, () => ready(first) && state(first).client.summary.answered >= 3, 3000, 'answers');
    const late = join();
    await until(scheduler, () => ready(late), 1000, 'caught up');
    expect(state(late).protected).toBe(true);
    expect(late.feed.trace.length).toBeGreaterThan(0);
    expect(late.feed.trace[0]?.time).toBe(first.feed.trace[0]?.time);
    end();
  });
});
