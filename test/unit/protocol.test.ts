import { describe, expect, it } from 'vitest';
import { HeartbeatMonitor } from '../../engine/protocol/heartbeat.ts';
import { MAX_BUSY_MS, parseWireMessage, type ColoMessage } from '../../engine/protocol/messages.ts';
import { busyMsFor } from '../../engine/replication/config.ts';
import { PrimaryCore } from '../../engine/protocol/primary.ts';
import { SecondaryCore } from '../../engine/protocol/secondary.ts';

const header = { bytes: 100, checksum: 7, inputAt: 0 };
const msg = {
  ready: { type: 'checkpoint-ready' },
  request: (checkpoint: number) => ({ type: 'checkpoint-request', checkpoint }),
  reply: (checkpoint: number) => ({ type: 'checkpoint-reply', checkpoint }),
  send: (checkpoint: number) => ({ type: 'vmstate-send', checkpoint }),
  size: (checkpoint: number) => ({ type: 'vmstate-size', checkpoint, header }),
  received: (checkpoint: number) => ({ type: 'vmstate-received', checkpoint }),
  loaded: (checkpoint: number) => ({ type: 'vmstate-loaded', checkpoint }),
} satisfies Record<string, ColoMessage | ((n: number) => ColoMessage)>;

/** A primary that finished checkpoint 1 (the initial sync) and is idle. */
function idlePrimary(): PrimaryCore {
  const p = new PrimaryCore();
  p.handle({ kind: 'message', message: msg.ready });
  p.handle({ kind: 'message', message: msg.reply(1) });
  p.handle({ kind: 'captured', checkpoint: 1, header });
  p.handle({ kind: 'message', message: msg.received(1) });
  p.handle({ kind: 'message', message: msg.loaded(1) });
  return p;
}

/** A secondary that loaded checkpoint 1 and is idle. */
function idleSecondary(): SecondaryCore {
  const s = new SecondaryCore();
  s.handle({ kind: 'ready' });
  s.handle({ kind: 'message', message: msg.request(1) });
  s.handle({ kind: 'message', message: msg.send(1) });
  s.handle({ kind: 'message', message: msg.size(1), verdict: 'ok' });
  s.handle({ kind: 'loaded', checkpoint: 1 });
  return s;
}

describe('PrimaryCore', () => {
  it('runs one transaction in the order of the diagram', () => {
    const p = new PrimaryCore();
    expect(p.phase).toBe('wait-ready');
    expect(p.handle({ kind: 'message', message: msg.ready })).toEqual([{ kind: 'send', message: msg.request(1) }]);
    expect(p.phase).toBe('requested');
    expect(p.handle({ kind: 'message', message: msg.reply(1) })).toEqual([{ kind: 'capture', checkpoint: 1, cause: 'initial' }]);
    expect(p.phase).toBe('capturing');
    expect(p.handle({ kind: 'captured', checkpoint: 1, header })).toEqual([
      { kind: 'send', message: msg.send(1) },
      { kind: 'send', message: msg.size(1) },
    ]);
    expect(p.phase).toBe('await-received');
    expect(p.handle({ kind: 'message', message: msg.received(1) })).toEqual([{ kind: 'release', upTo: 1 }]);
    expect(p.received).toBe(1);
    expect(p.phase).toBe('await-loaded');
    expect(p.handle({ kind: 'message', message: msg.loaded(1) })).toEqual([{ kind: 'resume' }]);
    expect(p.phase).toBe('idle');
    expect(p.loaded).toBe(1);
  });

  it('starts periodic checkpoints only when idle, and queues a manual one', () => {
    const p = idlePrimary();
    expect(p.handle({ kind: 'checkpoint-due', cause: 'periodic' })).toEqual([{ kind: 'send', message: msg.request(2) }]);
    expect(p.handle({ kind: 'checkpoint-due', cause: 'periodic' })).toEqual([]);
    expect(p.handle({ kind: 'checkpoint-due', cause: 'manual' })).toEqual([]);
    p.handle({ kind: 'message', message: msg.reply(2) });
    p.handle({ kind: 'captured', checkpoint: 2, header });
    p.handle({ kind: 'message', message: msg.received(2) });
    expect(p.handle({ kind: 'message', message: msg.loaded(2) })).toEqual([{ kind: 'resume' }, { kind: 'send', message: msg.request(3) }]);
  });

  it('names the unexpected message and the expected one, then leaves COLO cleanly', () => {
    const p = idlePrimary();
    p.handle({ kind: 'checkpoint-due', cause: 'manual' });
    const effects = p.handle({ kind: 'message', message: msg.loaded(2) });
    expect(p.phase).toBe('exited');
    expect(p.exitReason).toBe('error');
    expect(p.exitDetail).toMatch(/^unexpected vmstate-loaded, expected checkpoint-reply/);
    expect(effects.map((e) => e.kind)).toEqual(['notify-peer-exit', 'exited']);
    expect(p.handle({ kind: 'checkpoint-due', cause: 'manual' })).toEqual([]);
  });

  it('refuses a reply for the wrong checkpoint number', () => {
    const p = idlePrimary();
    p.handle({ kind: 'checkpoint-due', cause: 'manual' });
    p.handle({ kind: 'message', message: msg.reply(5) });
    expect(p.exitDetail).toBe('checkpoint-reply for checkpoint 5, expected checkpoint 2');
  });

  it('resumes a VM stopped for a checkpoint when it leaves COLO mid-transaction', () => {
    const p = idlePrimary();
    p.handle({ kind: 'checkpoint-due', cause: 'manual' });
    p.handle({ kind: 'message', message: msg.reply(2) });
    const effects = p.handle({ kind: 'capture-failed', checkpoint: 2, error: 'boom' });
    expect(effects.map((e) => e.kind)).toEqual(['notify-peer-exit', 'resume', 'exited']);
    expect(p.exitDetail).toBe('capturing checkpoint 2 failed: boom');
  });

  it('on losing the secondary, completes its own failover and runs on, but holds output until the host confirms', () => {
    const p = idlePrimary();
    p.handle({ kind: 'checkpoint-due', cause: 'manual' });
    p.handle({ kind: 'message', message: msg.reply(2) });
    p.handle({ kind: 'captured', checkpoint: 2, header });
    const effects = p.handle({ kind: 'peer-lost', detail: 'no heartbeat for 600 ms' });
    expect(effects).toEqual([{ kind: 'resume' }, { kind: 'exited', reason: 'request', detail: 'no heartbeat for 600 ms' }]);
    expect(p.failover.status).toBe('completed');
    expect(p.handle({ kind: 'lost-heartbeat' })).toEqual([]);
    // Only the host, once it has fenced the secondary, lets held output go.
    expect(p.handle({ kind: 'confirmed-alone' })).toEqual([{ kind: 'release-all' }]);
    expect(p.handle({ kind: 'confirmed-alone' })).toEqual([]);
  });

  it('ignores a confirmation while still replicating', () => {
    const p = idlePrimary();
    expect(p.handle({ kind: 'confirmed-alone' })).toEqual([]);
    expect(p.phase).toBe('idle');
  });

  it('speculative (Remus): resumes right after capture, still releases output only at vmstate-received, and never resumes twice', () => {
    const p = new PrimaryCore('after-capture');
    p.handle({ kind: 'message', message: msg.ready });
    p.handle({ kind: 'message', message: msg.reply(1) });
    expect(p.handle({ kind: 'captured', checkpoint: 1, header }).map((e) => e.kind)).toEqual(['send', 'send', 'resume']);
    expect(p.handle({ kind: 'message', message: msg.received(1) })).toEqual([{ kind: 'release', upTo: 1 }]);
    expect(p.handle({ kind: 'message', message: msg.loaded(1) })).toEqual([]);
    expect(p.phase).toBe('idle');
    // Leaving COLO while the state travels: the VM already runs.
    p.handle({ kind: 'checkpoint-due', cause: 'periodic' });
    p.handle({ kind: 'message', message: msg.reply(2) });
    p.handle({ kind: 'captured', checkpoint: 2, header });
    expect(p.handle({ kind: 'peer-lost', detail: 'gone' }).map((e) => e.kind)).toEqual(['exited']);
  });

  it('treats a colo-exit from the secondary as the end of replication, without answering it', () => {
    const p = idlePrimary();
    const effects = p.handle({ kind: 'peer-exited', detail: 'bad checksum' });
    expect(effects.map((e) => e.kind)).toEqual(['exited']);
    expect(p.exitDetail).toBe('secondary left COLO: bad checksum');
  });
});

describe('SecondaryCore', () => {
  it('announces itself, then answers a transaction and loads only after vmstate-received', () => {
    const s = new SecondaryCore();
    expect(s.handle({ kind: 'ready' })).toEqual([{ kind: 'send', message: msg.ready }]);
    expect(s.handle({ kind: 'message', message: msg.request(1) })).toEqual([{ kind: 'send', message: msg.reply(1) }]);
    expect(s.handle({ kind: 'message', message: msg.send(1) })).toEqual([]);
    expect(s.phase).toBe('await-size');
    expect(s.handle({ kind: 'message', message: msg.size(1), verdict: 'ok' })).toEqual([
      { kind: 'send', message: msg.received(1) },
      { kind: 'load', checkpoint: 1 },
    ]);
    expect(s.phase).toBe('loading');
    expect(s.handle({ kind: 'loaded', checkpoint: 1 })).toEqual([{ kind: 'send', message: msg.loaded(1) }]);
    expect(s.loaded).toBe(1);
    expect(s.phase).toBe('idle');
  });

  it('refuses a corrupt vmstate, discards it and keeps the last good checkpoint', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.request(2) });
    s.handle({ kind: 'message', message: msg.send(2) });
    const effects = s.handle({ kind: 'message', message: msg.size(2), verdict: { error: 'checksum 1 != 2' } });
    expect(effects.map((e) => e.kind)).toEqual(['discard-staging', 'notify-peer-exit', 'exited']);
    expect(s.exitDetail).toBe('vmstate of checkpoint 2 refused: checksum 1 != 2');
    expect(s.loaded).toBe(1);
  });

  it('refuses a request that skips a checkpoint number', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.request(3) });
    expect(s.exitDetail).toBe('checkpoint-request for checkpoint 3, expected checkpoint 2');
  });

  it('names an unexpected message', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.size(2), verdict: 'ok' });
    expect(s.exitDetail).toMatch(/^unexpected vmstate-size, expected checkpoint-request/);
  });

  it.each(['idle', 'await-send', 'await-size'] as const)('takes over from the last loaded checkpoint when the primary is lost in %s', (phase) => {
    const s = idleSecondary();
    if (phase !== 'idle') s.handle({ kind: 'message', message: msg.request(2) });
    if (phase === 'await-size') s.handle({ kind: 'message', message: msg.send(2) });
    expect(s.phase).toBe(phase);
    const effects = s.handle({ kind: 'peer-lost', detail: 'silent for 600 ms' });
    expect(effects.filter((e) => e.kind === 'takeover')).toEqual([{ kind: 'takeover', from: 1 }]);
    expect(effects.some((e) => e.kind === 'discard-staging')).toBe(phase !== 'idle');
    expect(s.failover.status).toBe('completed');
    expect(s.phase).toBe('primary');
    expect(s.handle({ kind: 'message', message: msg.request(2) })).toEqual([]);
  });

  it('finishes a load before taking over (relaunch)', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.request(2) });
    s.handle({ kind: 'message', message: msg.send(2) });
    s.handle({ kind: 'message', message: msg.size(2), verdict: 'ok' });
    expect(s.handle({ kind: 'lost-heartbeat' })).toEqual([{ kind: 'failover-status', status: 'relaunch' }]);
    expect(s.failover.status).toBe('relaunch');
    const effects = s.handle({ kind: 'loaded', checkpoint: 2 });
    expect(effects).toContainEqual({ kind: 'takeover', from: 2 });
    expect(s.failover.status).toBe('completed');
  });

  // vmstate-received 2 let the primary release output that only checkpoint 2
  // covers: taking over from checkpoint 1 would lose it.
  it('never takes over from an older checkpoint when the load during a relaunch fails: the service is lost, by name', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.request(2) });
    s.handle({ kind: 'message', message: msg.send(2) });
    s.handle({ kind: 'message', message: msg.size(2), verdict: 'ok' });
    s.handle({ kind: 'lost-heartbeat' });
    const effects = s.handle({ kind: 'load-failed', checkpoint: 2, error: 'bad' });
    expect(effects.some((e) => e.kind === 'takeover')).toBe(false);
    expect(s.phase).toBe('exited');
    expect(s.exitDetail).toBe('service lost: checkpoint 2 could not be loaded (bad), and no older one may serve');
    expect(s.handle({ kind: 'peer-lost', detail: 'silent' })).toEqual([]);
  });

  it('a failed load without a failover leaves COLO (telling the primary) and never takes over later', () => {
    const s = idleSecondary();
    s.handle({ kind: 'message', message: msg.request(2) });
    s.handle({ kind: 'message', message: msg.send(2) });
    s.handle({ kind: 'message', message: msg.size(2), verdict: 'ok' });
    const effects = s.handle({ kind: 'load-failed', checkpoint: 2, error: 'bad' });
    expect(effects.map((e) => e.kind)).toEqual(['reload-last-good', 'notify-peer-exit', 'exited']);
    expect(s.exitDetail).toBe('loading checkpoint 2 failed: bad');
    expect(s.handle({ kind: 'lost-heartbeat' })).toEqual([]);
  });

  it('takes over after loading checkpoint 1 when the primary is lost during that first load (relaunch)', () => {
    const s = new SecondaryCore();
    s.handle({ kind: 'ready' });
    s.handle({ kind: 'message', message: msg.request(1) });
    s.handle({ kind: 'message', message: msg.send(1) });
    s.handle({ kind: 'message', message: msg.size(1), verdict: 'ok' });
    expect(s.handle({ kind: 'peer-lost', detail: 'silent' })).toEqual([{ kind: 'failover-status', status: 'relaunch' }]);
    expect(s.handle({ kind: 'loaded', checkpoint: 1 })).toContainEqual({ kind: 'takeover', from: 1 });
  });

  it('cannot take over before the initial sync, and never after COLO exited', () => {
    const fresh = new SecondaryCore();
    fresh.handle({ kind: 'ready' });
    expect(fresh.handle({ kind: 'lost-heartbeat' })).toContainEqual(
      expect.objectContaining({ kind: 'exited', detail: expect.stringMatching(/no complete checkpoint was ever loaded/) }),
    );
    const s = idleSecondary();
    s.handle({ kind: 'peer-exited', detail: 'primary capture failed' });
    expect(s.phase).toBe('exited');
    expect(s.handle({ kind: 'peer-lost', detail: 'silent' })).toEqual([]);
    expect(s.failover.status).toBe('none');
  });

  it('lets only the first of two failover triggers win', () => {
    const s = idleSecondary();
    expect(s.handle({ kind: 'peer-lost', detail: 'silent' }).length).toBeGreaterThan(0);
    expect(s.handle({ kind: 'lost-heartbeat' })).toEqual([]);
  });
});

describe('parseWireMessage', () => {
  it.each([
    [null, /not a message/],
    [{ type: 'checkpoint-explode' }, /unknown message type "checkpoint-explode"/],
    [{ type: 'checkpoint-request' }, /checkpoint-request without a valid checkpoint number/],
    [{ type: 'checkpoint-request', checkpoint: -1 }, /without a valid checkpoint number/],
    [{ type: 'vmstate-size', checkpoint: 1 }, /vmstate-size: no header/],
    [{ type: 'heartbeat' }, /heartbeat without sequence/],
    [{ type: 'heartbeat', sequence: 1, busyMs: -5 }, /heartbeat announcing a busy time of -5 ms \(0 to 60000 allowed\)/],
    [{ type: 'heartbeat', sequence: 1, busyMs: 1e9 }, /busy time of 1000000000 ms/],
    [{ type: 'heartbeat', sequence: 1, busyMs: 'long' }, /busy time of long ms/],
    [{ type: 'checkpoint-request', checkpoint: 1.5 }, /without a valid checkpoint number/],
    [{ type: 'checkpoint-request', checkpoint: 2 ** 32 }, /without a valid checkpoint number/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, bytes: -1 } }, /size -1 is not a whole number of bytes from 0 to 2\^32/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, bytes: 10.5 } }, /size 10.5 is not/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, bytes: Number.NaN } }, /size NaN is not/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, bytes: 2 ** 32 + 1 } }, /size 4294967297 is not/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, checksum: -3 } }, /checksum -3 is not a 32-bit value/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { bytes: 1, checksum: 1 } }, /input position undefined is not a stream position/],
    [{ type: 'vmstate-size', checkpoint: 1, header: { ...header, lineStart: 'a\nb' } }, /started output line is not a line start/],
    [{ type: 'svm-output', lines: ['x'] }, /svm-output without the checkpoint its run started from/],
    [{ type: 'checkpoint-ready', base: { image: 'abc', ram: 1 } }, /names a base that is not an image hash and a RAM checksum/],
    [{ type: 'checkpoint-ready', base: { image: 'a'.repeat(64), ram: -1 } }, /names a base that is not/],
  ])('rejects %j', (data, error) => {
    expect(parseWireMessage(data)).toEqual({ error: expect.stringMatching(error) });
  });

  it('accepts well-formed messages and drops unknown fields', () => {
    expect(parseWireMessage({ type: 'vmstate-size', checkpoint: 2, header, extra: 1 })).toEqual(msg.size(2));
    expect(parseWireMessage({ type: 'heartbeat', sequence: 4 })).toEqual({ type: 'heartbeat', sequence: 4 });
    expect(parseWireMessage({ type: 'heartbeat', sequence: 5, busyMs: 1000 })).toEqual({ type: 'heartbeat', sequence: 5, busyMs: 1000 });
    expect(parseWireMessage({ type: 'colo-exit', detail: 'x' })).toEqual({ type: 'colo-exit', detail: 'x' });
    const base = { image: 'f'.repeat(64), ram: 0x1234 };
    expect(parseWireMessage({ type: 'checkpoint-ready', base: { ...base, extra: 1 } })).toEqual({ type: 'checkpoint-ready', base });
  });

  it('a secondary that holds the booted snapshot names it in checkpoint-ready', () => {
    const base = { image: 'f'.repeat(64), ram: 0x1234 };
    expect(new SecondaryCore().handle({ kind: 'ready', base })).toEqual([{ kind: 'send', message: { type: 'checkpoint-ready', base } }]);
  });
});

describe('busyMsFor', () => {
  it('announces the step time for a small state, longer for a big one, and never more than a peer accepts', () => {
    expect(busyMsFor(900_000, 1000)).toBe(1000);
    expect(busyMsFor(32_000_000, 1000)).toBe(4000);
    expect(busyMsFor(2 ** 32, 1000)).toBe(MAX_BUSY_MS);
  });
});

describe('HeartbeatMonitor', () => {
  it('declares the peer lost after missLimit of its own beats without a message, and not before', () => {
    const m = new HeartbeatMonitor({ intervalMs: 100, missLimit: 3 }, 1000);
    expect([m.beat(), m.beat(), m.beat()]).toEqual([false, false, false]);
    expect(m.beat()).toBe(true);
  });

  it('starts counting again at every message, and reports how long the peer was silent', () => {
    const m = new HeartbeatMonitor({ intervalMs: 100, missLimit: 3 }, 1000);
    m.beat();
    m.beat();
    m.beat();
    m.heard(1250);
    expect(m.beat()).toBe(false);
    expect(m.silentMs(1500)).toBe(250);
  });

  it('does not count its own stall as the peer missing beats: one late beat is one beat', () => {
    const m = new HeartbeatMonitor({ intervalMs: 100, missLimit: 3 }, 1000);
    m.heard(1000);
    // This side was busy for a whole second (ten intervals): the peer was silent
    // that long, yet this side's next beat is only the first one it missed.
    expect(m.silentMs(2000)).toBe(1000);
    expect(m.beat()).toBe(false);
    expect([m.beat(), m.beat()]).toEqual([false, false]);
    expect(m.beat()).toBe(true);
  });

  it('a peer that announced it blocks may be silent for the time it announced too, and no longer once it spoke again', () => {
    const m = new HeartbeatMonitor({ intervalMs: 20, missLimit: 3 }, 0);
    m.heard(0, 50);
    // 3 beats of the limit and ceil(50 / 20) = 3 of the allowance.
    expect(Array.from({ length: 6 }, () => m.beat())).toEqual([false, false, false, false, false, false]);
    expect(m.beat()).toBe(true);
    // Its next message (no announcement) ends the allowance.
    m.heard(200);
    expect([m.beat(), m.beat(), m.beat(), m.beat()]).toEqual([false, false, false, true]);
  });

  it('counts as overdue only the silence beyond the busy time the peer announced: a long step it said it was in is no silence of the link', () => {
    const m = new HeartbeatMonitor({ intervalMs: 20, missLimit: 3 }, 0);
    m.heard(0, 4000);
    expect(m.silentMs(4300)).toBe(4300);
    expect(m.overdueMs(4300)).toBe(300);
    expect(m.overdueMs(1000)).toBe(0);
    m.heard(5000);
    expect(m.overdueMs(5500)).toBe(500);
  });

  it('keeps the longest silence it heard, from the first message on', () => {
    const m = new HeartbeatMonitor({ intervalMs: 20, missLimit: 3 }, 0);
    m.heard(500);
    m.heard(520);
    m.heard(585);
    m.heard(600);
    expect(m.longestSilenceMs).toBe(65);
  });
});
