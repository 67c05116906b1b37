import { describe, expect, it } from 'vitest';
import { LedgerClient } from '../../engine/host/ledger-client.ts';

function client() {
  const sent: string[] = [];
  let now = 0;
  const c = new LedgerClient(
    (line) => sent.push(line),
    () => now++,
  );
  return { c, sent };
}

describe('LedgerClient', () => {
  it('frames requests, accepts the matching reply and keeps one request outstanding', () => {
    const { c, sent } = client();
    c.request({ op: 'add', amount: 5 });
    expect(sent).toEqual(['\nc1 add 5 .\n']);
    expect(() => c.request({ op: 'get' })).toThrow('client: request c1 is still unanswered');
    c.onReleasedLine('c1 ok 5');
    expect(c.pending).toBeUndefined();
    expect(c.summary()).toMatchObject({ sent: 1, answered: 1, lost: 0, contradicted: 0, violations: [] });
  });

  it('retries the outstanding request with the same id', () => {
    const { c, sent } = client();
    c.request({ op: 'add', amount: 2 });
    c.retry();
    expect(sent).toEqual(['\nc1 add 2 .\n', '\nc1 add 2 .\n']);
    c.onReleasedLine('c1 ok 2');
    c.onReleasedLine('c1 ok 2');
    expect(c.summary()).toMatchObject({ retries: 1, answered: 1, repeated: 1, violations: [] });
  });

  it('an error reply still answers the request (the ledger stored it), and is a violation', () => {
    const { c } = client();
    c.request({ op: 'add', amount: 3 });
    c.onReleasedLine('c1 err bad-op');
    expect(c.pending).toBeUndefined();
    expect(c.summary().violations).toEqual(['unexpected: "c1 err bad-op" is not a well-formed reply to c1 add 3']);
  });

  it('audits through the ledger protocol: every answered id asked again, then held to the history', () => {
    const { c, sent } = client();
    c.request({ op: 'add', amount: 4 });
    c.onReleasedLine('c1 ok 4');
    c.request({ op: 'rand' });
    c.onReleasedLine('c2 ok 4 rand=17');
    sent.length = 0;
    expect(c.startReask()).toBe(2);
    expect(sent).toEqual(['\nc1 audit .\n', '\nc2 audit .\n']);
    c.onReleasedLine('c1 ok 4');
    expect(c.reaskWaiting).toBe(1);
    // The serving ledger lost c2: asked again, it treats it as new.
    c.onReleasedLine('c2 err bad-op');
    expect(c.reaskWaiting).toBe(0);
    expect(c.finishReask(4, 'PC B')).toEqual(['PC B holds "c2 err bad-op" for c2; the client was shown "c2 ok 4 rand=17"']);
    expect(c.summary()).toMatchObject({ contradicted: 1, audit: 1, audits: 1 });
  });
});
