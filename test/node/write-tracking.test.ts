// Write tracking on real guests: checkpoints take only the pages v86 marked,
// with verify mode comparing all of RAM as well and failing, naming the page,
// on any changed page that was not marked. Idle, memwrite, burn, the ledger
// and a compare-mode secondary running: over a thousand checkpoints in all.
import { afterEach, describe, expect, it } from 'vitest';
import type { ColoCluster } from '../../engine/host/cluster.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import { spawnNodeVm } from '../../engine/worker/spawn.node.ts';
import type { VmHandle } from '../../engine/worker/vm-handle.ts';
import { ASSETS_DIR } from '../support/assets.ts';
import { audited, startCluster, TEST_REPLICATION } from '../support/cluster.ts';

type Capture = TraceEvent & { kind: 'capture' };
type Load = TraceEvent & { kind: 'load' };

let cluster: ColoCluster<VmHandle> | undefined;
afterEach(() => {
  cluster?.dispose();
  cluster = undefined;
});

/** Loads of the secondary, as they come. */
const loads: Load[] = [];

/** Runs until `count` more checkpoints were captured, then says what they were (the trace keeps only the recent events: each is taken as it comes). */
async function checkpoints(c: ColoCluster<VmHandle>, count: number): Promise<Capture[]> {
  const seen: Capture[] = [];
  let next = c.traceDropped + c.trace.length;
  const collect = () => {
    for (const event of c.trace.slice(Math.max(0, next - c.traceDropped))) {
      if (event.kind === 'capture') seen.push(event);
      if (event.kind === 'load') loads.push(event);
    }
    next = c.traceDropped + c.trace.length;
    return seen.length >= count || c.status.primary?.phase === 'exited';
  };
  await c.waitFor(collect, 120_000, `${count} checkpoints`);
  expect(c.status.primary?.exitDetail ?? '').toBe('');
  return seen;
}

describe('write tracking', () => {
  it('misses no changed page over a thousand verified checkpoints of real guests', { timeout: 600_000 }, async () => {
    const c = await startCluster<VmHandle>({
      spawn: spawnNodeVm,
      assetBase: ASSETS_DIR,
      replication: { ...TEST_REPLICATION, periodMs: 10, verify: true },
    });
    cluster = c;
    const primary = c.primary;
    if (!primary) throw new Error('no primary');
    const seen: Record<string, Capture[]> = {};
    seen.idle = await checkpoints(c, 250);
    await primary.shell('(memwrite 4 5 &)');
    seen.memwrite = await checkpoints(c, 250);
    await primary.shell('(burn 4 &)');
    seen.burn = await checkpoints(c, 200);
    const ledger = checkpoints(c, 150);
    for (let i = 0; i < 20; i++) await c.client.ask({ op: 'add', amount: i + 1 });
    seen.ledger = await ledger;
    await c.configure({ compare: { ...c.config.compare, enabled: true } });
    const compare = checkpoints(c, 150);
    for (let i = 0; i < 10; i++) await c.client.ask({ op: i % 2 ? 'rand' : 'get' });
    seen.compare = await compare;
    // More than a hundred loads that undid the running secondary's writes: on a busy machine fewer of the first
    // 150 loads find any, so checkpoints go on (25 at a time, within a bound) until enough did.
    const reverted = () => loads.filter((e) => e.reverted).length;
    for (let more = 0; reverted() <= 100 && more < 20; more++) seen.compare.push(...(await checkpoints(c, 25)));
    // The running secondary's own writes were undone from its marks, and verified against a full compare.
    const reverts = loads.flatMap((e) => (e.reverted ? [e.reverted] : []));
    console.log(
      `compare mode: ${reverts.length} loads undid the secondary's writes, ${reverts.filter((r) => r.tracking === 'write').length} from its marks, ${reverts.reduce((n, r) => n + r.pages, 0)} pages`,
    );
    expect(reverts.length).toBeGreaterThan(100);
    expect(reverts.every((r) => r.tracking === 'write')).toBe(true);
    expect(c.status.secondary?.exitDetail ?? '').toBe('');

    const all = Object.values(seen).flat();
    const summary = Object.fromEntries(
      Object.entries(seen).map(([load, list]) => [
        load,
        { checkpoints: list.length, tracked: list.filter((e) => e.tracking === 'write').length, pages: list.reduce((n, e) => n + (e.pages?.ram ?? 0), 0) },
      ]),
    );
    console.log('write tracking, verified:', JSON.stringify(summary));
    expect(all.length).toBeGreaterThanOrEqual(1000);
    // Every capture after the first scan used the marks, and verify mode found no page they missed (it would have ended COLO).
    expect(all.every((e) => e.path === 'delta' && e.tracking === 'write')).toBe(true);
    expect(c.status.primary?.exitReason).toBe('none');
    // memwrite changed pages, and the marks found them.
    expect(summary.memwrite?.pages).toBeGreaterThan(1000);
    expect(await audited(c)).toEqual([]);
  });
});
