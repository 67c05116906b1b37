// @vitest-environment happy-dom
// The page's views only view, and take everything they start with them: the
// page is built around a feed and taken down again fifty times, and every
// timer, animation frame, document listener and feed subscription it started
// is gone each time; and its buttons only send commands.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { emptyHistoryReport } from '../../engine/host/history-checker.ts';
import { ClusterFeed } from '../../engine/host/feed.ts';
import { commandsVia, type ClusterCommand, type ClusterState } from '../../engine/host/surface.ts';
import { DEFAULT_REPLICATION } from '../../engine/replication/config.ts';

const ROOT = join(import.meta.dirname, '../..');
const html = readFileSync(join(ROOT, 'index.html'), 'utf8');
document.body.innerHTML = /<body[^>]*>([\s\S]*)<\/body>/.exec(html)?.[1]?.replace(/<script[\s\S]*?<\/script>/g, '') ?? '';

/** What is alive now of what can outlive a view: timers, frames, listeners on the window and the document. */
function liveThings() {
  const live = { timers: new Map<unknown, string>(), frames: new Map<unknown, string>(), listeners: new Map<string, string>() };
  const w = window as unknown as Record<string, (...args: unknown[]) => unknown>;
  const where = () => new Error().stack?.split('\n').slice(3, 6).join(' | ') ?? '';
  const track = (start: string, stop: string, into: Map<unknown, string>, once: boolean) => {
    const begin = w[start] as (...args: unknown[]) => unknown;
    const end = w[stop] as (id: unknown) => void;
    w[start] = (fn: unknown, ...rest: unknown[]) => {
      // A one-shot that runs is gone by itself.
      const run = once ? (...a: unknown[]) => (into.delete(id), (fn as (...a: unknown[]) => void)(...a)) : fn;
      const id = begin.call(window, run, ...rest);
      into.set(id, where());
      return id;
    };
    w[stop] = (id: unknown) => {
      into.delete(id);
      end.call(window, id);
    };
  };
  track('setInterval', 'clearInterval', live.timers, false);
  track('setTimeout', 'clearTimeout', live.timers, true);
  track('requestAnimationFrame', 'cancelAnimationFrame', live.frames, true);
  const ids = new WeakMap<object, number>();
  let next = 0;
  const key = (target: EventTarget, type: string, listener: unknown) =>
    `${target === window ? 'window' : 'document'} ${type} ${listener && typeof listener === 'object' ? (ids.get(listener) ?? ids.set(listener, ++next).get(listener)) : String((listener as { name?: string })?.name) + (ids.get(listener as object) ?? ids.set(listener as object, ++next).get(listener as object))}`;
  for (const target of [window, document] as EventTarget[]) {
    const add = target.addEventListener.bind(target);
    const remove = target.removeEventListener.bind(target);
    target.addEventListener = (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) => {
      if (listener) live.listeners.set(key(target, type, listener), where());
      add(type, listener, options);
    };
    target.removeEventListener = (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions) => {
      if (listener) live.listeners.delete(key(target, type, listener));
      remove(type, listener, options);
    };
  }
  return live;
}

function protectedState(): ClusterState {
  const status = (side: 'primary' | 'secondary') => ({
    pair: 1,
    settings: { periodMs: 1000, mode: 'strict' as const, outputCommit: 'hold' as const, compare: DEFAULT_REPLICATION.compare, gate: DEFAULT_REPLICATION.gate },
    side,
    role: side,
    phase: 'idle' as const,
    checkpoint: 3,
    committed: 3,
    failover: 'none' as const,
    exitReason: 'none' as const,
    exitDetail: '',
    heldOutputLines: 0,
    runsBetweenCheckpoints: false,
    heartbeatGaps: { peerSilenceMs: 0, ownBeatGapMs: 0 },
  });
  return {
    started: true,
    phase: 'replicating',
    status: { primary: status('primary'), secondary: status('secondary') },
    serving: 'primary',
    fate: { primary: 'alive', secondary: 'alive' },
    names: { primary: 'PC A', secondary: 'PC B' },
    config: DEFAULT_REPLICATION,
    protected: true,
    canReprotect: false,
    serviceLost: undefined,
    falseFailovers: 0,
    dismissedSuspicions: 0,
    spare: undefined,
    spareWaitsFor: undefined,
    former: undefined,
    roles: { primary: 1, secondary: 2 },
    pcs: [
      { pc: 1, name: 'PC A', alive: true },
      { pc: 2, name: 'PC B', alive: true },
    ],
    client: {
      summary: { ...emptyHistoryReport(), sent: 0, retries: 0 },
      pending: undefined,
      automatic: true,
    },
    reboot: { kind: 'idle' },
    breakFault: undefined,
  };
}

/** A feed's subscriptions, counted through its own listener sets. */
const subscriptions = (feed: ClusterFeed) =>
  ['listeners', 'answerListeners', 'sentListeners'].reduce((n, key) => n + ((feed as unknown as Record<string, Set<unknown>>)[key]?.size ?? 0), 0);

describe("the page's views", () => {
  it('take every timer, frame, listener and subscription they started with them, fifty times over; their buttons send commands', async () => {
    const live = liveThings();
    const { showPage } = await import('../../app/page.ts');
    const sent: ClusterCommand[] = [];
    const commands = commandsVia(async (command) => {
      sent.push(command);
      return command.kind === 'read'
        ? command.args[1] === 'textScreen'
          ? []
          : command.args[1] === 'memoryUse'
            ? { wasmBytes: 1, ramBytes: 1 }
            : 0
        : undefined;
    });
    const feed = new ClusterFeed();
    feed.apply({ state: protectedState(), catchUp: true, trace: [], heartbeats: [], serial: [], sent: [], answers: [] });
    const now = () => ({
      timers: [...live.timers.values()],
      frames: [...live.frames.values()],
      listeners: [...live.listeners.keys()],
      subscriptions: subscriptions(feed),
    });
    const before = now();
    for (let round = 0; round < 50; round++) {
      const end = await showPage(feed, commands);
      expect(live.timers.size).toBeGreaterThan(before.timers.length);
      if (round === 0) {
        (document.querySelector('[data-action="kill-primary"]') as HTMLButtonElement).click();
        (document.querySelector('[data-action="client-get"]') as HTMLButtonElement).click();
      }
      end();
      // What xterm had already queued (a write, a frame) runs once and is gone; nothing of the page's is left.
      await vi.waitFor(() => expect(now()).toEqual(before), { timeout: 2000, interval: 5 });
      expect(document.querySelectorAll('.vm-panel, .controls, .client-panel, .tour').length).toBe(0);
    }
    expect(sent.filter((c) => c.kind === 'kill' || c.kind === 'sendRequest')).toEqual([
      { kind: 'kill', args: ['primary'] },
      { kind: 'sendRequest', args: [{ op: 'get' }] },
    ]);
  });
});
