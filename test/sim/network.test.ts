// The simulated channel keeps what a real MessagePort keeps: a message that
// arrives before its port is started waits for start(), in order. A fake that
// dropped it failed, for a reason real ports lack, any order of starting a
// pair's two sides but the one the host happened to use.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { PeerPort } from '../../engine/replication/ports.ts';
import { SimNetwork } from './network.ts';
import { SimScheduler } from './scheduler.ts';

/** Sends two messages to `receiver` before it listens, then starts it: what it heard, in order. */
async function heardAfterLateStart(sender: PeerPort, receiver: PeerPort, settle: () => Promise<void>): Promise<unknown[]> {
  const heard: unknown[] = [];
  sender.postMessage({ n: 1 }, []);
  sender.postMessage({ n: 2 }, []);
  await settle();
  receiver.addEventListener('message', (event) => heard.push(event.data));
  receiver.start();
  await settle();
  return heard;
}

describe('the simulated channel', () => {
  it('keeps what arrives before a port starts until it starts, in order, as a real MessagePort does', async () => {
    const real = new MessageChannel();
    const fromReal = await heardAfterLateStart(
      real.port1 as unknown as PeerPort,
      real.port2 as unknown as PeerPort,
      () => new Promise((resolve) => setTimeout(resolve, 20)),
    );
    real.port1.close();

    const scheduler = new SimScheduler();
    const network = new SimNetwork(scheduler, () => 0.5, { drop: 0, duplicate: 0, corrupt: 0, jitterMs: 0, reorder: false });
    const [a, b] = network.channel();
    const fromSim = await heardAfterLateStart(a, b, async () => {
      await scheduler.run(scheduler.now() + 5, () => {});
    });

    expect(fromReal).toEqual([{ n: 1 }, { n: 2 }]);
    expect(fromSim).toEqual(fromReal);
  });
});
