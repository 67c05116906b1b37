import { describe, expect, it } from 'vitest';
import { LedgerClient } from '../../engine/colo/ledger-client.ts';

function client() {
  const sent: string[] = [];
  let now = 0;
  const c = new LedgerClient((line) => sent.push(line), () => now++);
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
    expect(c.summary()).toMatchObject({ sent: 1, answered: 1, lost: 0, contradicted: 0 });
  });

  it('retries the outstanding request with the same id', () => {
    const { c, sent } = client();
    c.request({ op: 'add', amount: 2 });
    c.retry();
    expect(sent).toEqual(['\nc1 add 2 .\n', '\nc1 add 2 .\n']);
    c.onReleasedLine('c1 ok 2');
    expect(c.summary()).toMatchObject({ retries: 1, answered: 1 });
  });

  it('counts a total that went back as lost, and one too high as contradicted', () => {
    const { c } = client();
    c.request({ op: 'add', amount: 5 });
    c.onReleasedLine('c1 ok 5');
    c.request({ op: 'add', amount: 1 });
    c.onReleasedLine('c2 ok 1');
    c.request({ op: 'add', amount: 1 });
    c.onReleasedLine('c3 ok 9');
    expect(c.summary()).toMatchObject({ lost: 1, contradicted: 1 });
    expect(c.summary().violations).toEqual([
      'lost: c2 ok 1: total 1, acknowledged adds sum to 6',
      'contradicted: c3 ok 9: total 9, acknowledged adds sum to 2',
    ]);
  });

  it('counts a different answer to an answered id as contradicted, and ignores other lines', () => {
    const { c } = client();
    c.request({ op: 'add', amount: 3 });
    c.onReleasedLine('c1 ok 3');
    c.onReleasedLine('c1 ok 3');
    c.onReleasedLine('- err malformed');
    c.onReleasedLine('zz ok 100');
    expect(c.summary()).toMatchObject({ contradicted: 0 });
    c.onReleasedLine('c1 ok 4');
    expect(c.summary()).toMatchObject({ contradicted: 1 });
  });
});
