// COLO with real v86 guests in real workers (Node worker_threads): kill the
// primary at each stage of the handshake; corrupt what crosses the wire.
import { afterEach, describe, expect, it } from 'vitest';
import type { ColoCluster, WireData } from '../../engine/colo/cluster.ts';
import { checksum32 } from '../../engine/protocol/checksum.ts';
import { GUEST_CONFIG } from '../../engine/vm/guest-config.ts';
import { spawnNodeVm } from '../../engine/worker/spawn.node.ts';
import { ASSETS_DIR } from '../support/assets.ts';
import { ask, heldSeen, messageSeen, startCluster, takeoverFrom } from '../support/cluster.ts';

let cluster: ColoCluster | undefined;
afterEach(() => {
  cluster?.dispose();
  cluster = undefined;
});

const start = async (wireTap?: (from: 'primary' | 'secondary', m: WireData) => WireData[]) => {
  cluster = await startCluster({ spawn: spawnNodeVm, assetBase: ASSETS_DIR, ...(wireTap ? { wireTap } : {}) });
  return cluster;
};

interface Stage {
  name: string;
  /** Set breakpoints, then resolve with the checkpoint number the kill falls in. */
  reach(c: ColoCluster, after: number): Promise<number>;
  /** Checkpoint the secondary must take over from, given the one the kill fell in. */
  expectedFrom(k: number): number;
}

const STAGES: Stage[] = [
  {
    name: 'between checkpoints',
    async reach(c, after) {
      await c.waitFor(() => c.status.primary?.phase === 'idle' && (c.status.primary?.committed ?? 0) > after, 30_000, 'idle after a checkpoint');
      return c.status.primary?.committed ?? -1;
    },
    expectedFrom: (k) => k,
  },
  {
    name: 'after checkpoint-reply',
    async reach(c) {
      await c.setGate('primary', { step: false, breakBefore: ['vmstate-send'] });
      await c.waitFor(() => !!heldSeen(c, 'primary', 'vmstate-send'), 30_000, 'holding vmstate-send');
      return heldSeen(c, 'primary', 'vmstate-send')?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k - 1,
  },
  {
    name: 'in the middle of the state transfer',
    async reach(c) {
      await c.setGate('primary', { step: false, breakBefore: ['vmstate-size'] });
      await c.waitFor(() => !!heldSeen(c, 'primary', 'vmstate-size') && c.status.secondary?.phase === 'await-size', 30_000, 'mid-transfer');
      return heldSeen(c, 'primary', 'vmstate-size')?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k - 1,
  },
  {
    name: 'after vmstate-received',
    async reach(c, after) {
      await c.setGate('secondary', { step: false, breakBefore: ['vmstate-loaded'] });
      await c.waitFor(() => !!messageSeen(c, 'received', 'primary', 'vmstate-received', after + 1), 30_000, 'vmstate-received at the primary');
      return messageSeen(c, 'received', 'primary', 'vmstate-received', after + 1)?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k,
  },
  {
    name: 'after vmstate-loaded',
    async reach(c, after) {
      await c.waitFor(() => !!messageSeen(c, 'received', 'primary', 'vmstate-loaded', after + 1), 30_000, 'vmstate-loaded at the primary');
      return messageSeen(c, 'received', 'primary', 'vmstate-loaded', after + 1)?.checkpoint ?? -1;
    },
    expectedFrom: (k) => k,
  },
];

describe('killing the primary', () => {
  it.each(STAGES)('$name: the secondary takes over from the last complete checkpoint and nothing released is lost', async (stage) => {
    const c = await start();
    for (let i = 1; i <= 3; i++) expect(await ask(c, { op: 'add', amount: i })).toMatch(/^c\d+ ok \d+$/);
    const committed = c.status.primary?.committed ?? 0;
    // One request in flight while the stage is reached: its reply is held or released by then.
    c.client.request({ op: 'add', amount: 1000 });
    const k = await stage.reach(c, committed);
    c.killPrimary();
    await c.waitFor(() => c.serving === 'secondary', 30_000, 'failed over');
    expect(takeoverFrom(c)).toBe(stage.expectedFrom(k));
    await c.waitFor(() => c.client.pending === undefined, 30_000, 'in-flight request answered');
    for (let i = 0; i < 3; i++) expect(await ask(c, { op: 'add', amount: 7 })).toMatch(/^c\d+ ok \d+$/);
    const total = await ask(c, { op: 'get' });
    expect(total).toBe(`c${c.client.summary().sent} ok ${1 + 2 + 3 + 1000 + 21}`);
    const report = c.client.summary();
    expect(report.violations).toEqual([]);
    expect({ lost: report.lost, contradicted: report.contradicted }).toEqual({ lost: 0, contradicted: 0 });
    expect(c.status.secondary).toMatchObject({ role: 'primary', failover: 'completed' });
  });

  it('a manual failover (x-colo-lost-heartbeat) hands over while the primary still runs, and fences it', async () => {
    const c = await start();
    expect(await ask(c, { op: 'add', amount: 5 })).toMatch(/ ok 5$/);
    c.failover();
    await c.waitFor(() => c.serving === 'secondary', 30_000, 'failed over');
    expect(c.primary?.alive).toBe(false);
    expect(c.trace.some((e) => e.kind === 'host' && e.action === 'fence')).toBe(true);
    expect(await ask(c, { op: 'add', amount: 1 })).toMatch(/ ok 6$/);
    expect(c.client.summary()).toMatchObject({ lost: 0, contradicted: 0 });
  });

  it('losing the secondary leaves the primary serving, unprotected, with held output released', async () => {
    const c = await start();
    expect(await ask(c, { op: 'add', amount: 2 })).toMatch(/ ok 2$/);
    c.killSecondary();
    await c.waitFor(() => c.status.primary?.phase === 'exited', 30_000, 'primary left COLO');
    expect(c.status.primary).toMatchObject({ exitReason: 'request', failover: 'completed', heldOutputLines: 0 });
    expect(c.status.primary?.exitDetail).toMatch(/no message from the secondary for \d+ ms/);
    expect(await ask(c, { op: 'add', amount: 3 })).toMatch(/ ok 5$/);
  });
});

describe('bad input on the wire', () => {
  const tamperVmstate = (change: (m: WireData) => WireData) => {
    let done = false;
    return (from: 'primary' | 'secondary', m: WireData): WireData[] => {
      if (!done && from === 'primary' && m.type === 'vmstate-size' && (m.checkpoint as number) >= 3) {
        done = true;
        return [change(m)];
      }
      return [m];
    };
  };

  async function expectCleanStop(c: ColoCluster, secondaryError: RegExp): Promise<void> {
    await c.waitFor(() => c.status.secondary?.phase === 'exited' && c.status.primary?.phase === 'exited', 30_000, 'both sides out of COLO');
    expect(c.status.secondary?.exitReason).toBe('error');
    expect(c.status.secondary?.exitDetail).toMatch(secondaryError);
    expect(c.status.primary?.exitDetail).toMatch(/^secondary left COLO: /);
    expect(c.trace.some((e) => e.kind === 'error' || e.kind === 'exit')).toBe(true);
    // The secondary kept its last good checkpoint and loaded nothing else.
    const failedAt = c.status.secondary?.checkpoint ?? 0;
    expect(c.status.secondary?.committed).toBe(failedAt - 1);
    expect(c.trace.filter((e) => e.kind === 'load' && e.checkpoint >= failedAt)).toEqual([]);
    // The primary goes on serving, unprotected, and its state is still good.
    expect(await ask(c, { op: 'add', amount: 1 })).toMatch(/^c\d+ ok \d+$/);
    expect(c.client.summary()).toMatchObject({ lost: 0, contradicted: 0 });
    const kept = await c.secondary?.saveState();
    expect(kept?.byteLength).toBeGreaterThan(GUEST_CONFIG.vgaMemoryBytes);
  }

  it('a corrupted vmstate is refused by its checksum', async () => {
    const c = await start(
      tamperVmstate((m) => {
        const bytes = new Uint8Array(m.payload as ArrayBuffer);
        bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x40;
        return m;
      }),
    );
    await expectCleanStop(c, /^vmstate of checkpoint \d+ refused: checksum mismatch/);
  });

  it('a truncated vmstate is refused by its length', async () => {
    const c = await start(tamperVmstate((m) => ({ ...m, payload: (m.payload as ArrayBuffer).slice(0, 1_000_000) })));
    await expectCleanStop(c, /^vmstate of checkpoint \d+ refused: truncated: 1000000 bytes arrived, vmstate-size announced \d+/);
  });

  it('a vmstate from another v86 state version is refused by its header', async () => {
    const c = await start(
      tamperVmstate((m) => {
        const payload = m.payload as ArrayBuffer;
        new DataView(payload).setInt32(4, 7, true);
        // Keep the checksum right, so it is the header check that refuses it.
        return { ...m, header: { ...(m.header as object), checksum: checksum32(payload) } };
      }),
    );
    await expectCleanStop(c, /^vmstate of checkpoint \d+ refused: state: v86 state format version 7/);
  });

  it('a wrong checkpoint number ends replication with both numbers named', async () => {
    let done = false;
    const c = await start((from, m) => {
      if (!done && from === 'primary' && m.type === 'checkpoint-request' && (m.checkpoint as number) >= 3) {
        done = true;
        return [{ ...m, checkpoint: (m.checkpoint as number) + 5 }];
      }
      return [m];
    });
    await c.waitFor(() => c.status.secondary?.phase === 'exited', 30_000, 'secondary out of COLO');
    expect(c.status.secondary?.exitDetail).toMatch(/^checkpoint-request for checkpoint (\d+), expected checkpoint \d+$/);
    await c.waitFor(() => c.status.primary?.phase === 'exited', 30_000, 'primary out of COLO');
    expect(await ask(c, { op: 'add', amount: 1 })).toMatch(/ ok 1$/);
  });

  it('an unexpected message ends replication with "unexpected X, expected Y"', async () => {
    let done = false;
    const c = await start((from, m) => {
      if (!done && from === 'secondary' && m.type === 'vmstate-loaded' && (m.checkpoint as number) >= 2) {
        done = true;
        return [m, { type: 'checkpoint-reply', checkpoint: 99 }];
      }
      return [m];
    });
    await c.waitFor(() => c.status.primary?.phase === 'exited', 30_000, 'primary out of COLO');
    expect(c.status.primary?.exitDetail).toMatch(/^unexpected checkpoint-reply, expected no message \(primary idle/);
    await c.waitFor(() => c.status.secondary?.phase === 'exited', 30_000, 'secondary out of COLO');
    expect(c.status.secondary?.exitDetail).toMatch(/^primary left COLO: unexpected checkpoint-reply/);
    expect(await ask(c, { op: 'add', amount: 4 })).toMatch(/ ok 4$/);
  });

  it('a malformed message is named and ends replication', async () => {
    let done = false;
    const c = await start((from, m) => {
      if (!done && from === 'secondary' && m.type === 'vmstate-loaded' && (m.checkpoint as number) >= 2) {
        done = true;
        return [m, { type: 'checkpoint-explode' }];
      }
      return [m];
    });
    await c.waitFor(() => c.status.primary?.phase === 'exited', 30_000, 'primary out of COLO');
    expect(c.status.primary?.exitDetail).toBe('malformed message from the secondary: unknown message type "checkpoint-explode"');
  });
});

