// The JavaScript heap of every page and worker of a Chromium browser, read over
// the DevTools protocol (a worker's own `performance.memory` does not exist in
// Chromium). Playwright gives no session for a worker target, so each is
// attached without flattening and spoken to through the browser's session.
import type { Browser, CDPSession } from 'playwright-core';

export interface JsHeap {
  type: 'page' | 'worker';
  url: string;
  /** Bytes of the JS heap in use. */
  used: number;
  /** Bytes the JS heap has reserved. */
  total: number;
  /** Bytes of ArrayBuffer contents, held outside the heap. */
  buffers: number;
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize?: number;
}

export async function jsHeaps(browser: Browser): Promise<JsHeap[]> {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = await cdp.send('Target.getTargets');
    const heaps: JsHeap[] = [];
    for (const target of targetInfos) {
      if (target.type !== 'page' && target.type !== 'worker') continue;
      const usage = await heapUsage(cdp, target.targetId);
      if (usage) heaps.push({ type: target.type, url: target.url, used: usage.usedSize, total: usage.totalSize, buffers: usage.backingStorageSize ?? 0 });
    }
    return heaps;
  } finally {
    await cdp.detach();
  }
}

/** A target that does not answer within this is left out (one ending, or one that answers with an error). */
const ANSWER_DEADLINE_MS = 5000;

/** Runtime.getHeapUsage in one target, or undefined if it ended meanwhile, answered with an error, or did not answer in time. */
async function heapUsage(cdp: CDPSession, targetId: string): Promise<HeapUsage | undefined> {
  let listen: ((event: { sessionId?: string; message: string }) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });
    const answer = new Promise<HeapUsage | undefined>((resolve) => {
      listen = (event) => {
        const message = JSON.parse(event.message) as { id?: number; result?: HeapUsage };
        if (event.sessionId === sessionId && message.id === 1) resolve(message.result);
      };
      cdp.on('Target.receivedMessageFromTarget', listen);
      timer = setTimeout(() => resolve(undefined), ANSWER_DEADLINE_MS);
    });
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.getHeapUsage' }) });
    const usage = await answer;
    await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
    return usage;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    if (listen) cdp.off('Target.receivedMessageFromTarget', listen);
  }
}
