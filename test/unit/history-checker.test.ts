// The checker is only worth something if each kind of bad history fails it.
import { describe, expect, it } from 'vitest';
import { HistoryChecker, violationCount } from '../../engine/host/history-checker.ts';

function checker() {
  const h = new HistoryChecker();
  h.sent('c1', { op: 'add', amount: 5 });
  expect(h.shown('c1 ok 5')).toBe('answer');
  return h;
}

describe('HistoryChecker', () => {
  it('accepts a well-formed history: answers, identical repeats, refused fragments', () => {
    const h = checker();
    h.sent('c2', { op: 'rand' });
    expect(h.shown('- err malformed')).toBe('refused');
    expect(h.shown('c2 ok 5 rand=9')).toBe('answer');
    expect(h.shown('c1 ok 5')).toBe('repeat');
    h.sent('c3', { op: 'time' });
    expect(h.shown('c3 ok 5 time=1700000000')).toBe('answer');
    expect(h.audit({ storedReply: (id) => ({ c1: 'c1 ok 5', c2: 'c2 ok 5 rand=9', c3: 'c3 ok 5 time=1700000000' })[id], total: 5 })).toEqual([]);
    expect(violationCount(h.summary())).toBe(0);
    expect(h.summary()).toMatchObject({ answered: 3, repeated: 1, refused: 1 });
  });

  it('counts the ledger’s banner (it started again, from its journal) and judges what follows as before', () => {
    const h = checker();
    expect(h.shown('ledger: ready')).toBe('banner');
    expect(h.shown('c1 ok 5')).toBe('repeat');
    // A ledger that came back without its journal contradicts what the client saw.
    h.sent('c2', { op: 'get' });
    expect(h.shown('c2 ok 0')).toBe('violation');
    expect(h.summary()).toMatchObject({ restarts: 1, repeated: 1, lost: 1 });
  });

  it.each([
    ['a later error line for an answered id', ['c1 err bad-op'], 'contradicted: id c1 was answered "c1 ok 5", now "c1 err bad-op"'],
    ['a reply for an id that is not outstanding', ['c7 ok 5'], 'unexpected: "c7 ok 5": no request c7 was sent'],
    ['a garbled line with the right total', ['c2 ok 5 54'], 'unexpected: "c2 ok 5 54" is not a well-formed reply to c2 get'],
    ['a fragment glued to a reply', ['4'], 'unexpected: "4": no request 4 was sent'],
    ["an error for the client's own request", ['c2 err bad-op'], 'unexpected: "c2 err bad-op" is not a well-formed reply to c2 get'],
    ['a total that went back', ['c2 ok 1'], 'lost: c2 ok 1: total 1, acknowledged adds sum to 5'],
    ['a total too high', ['c2 ok 9'], 'contradicted: c2 ok 9: total 9, acknowledged adds sum to 5'],
  ])('catches %s', (_what, lines, violation) => {
    const h = checker();
    h.sent('c2', { op: 'get' });
    for (const line of lines) h.shown(line);
    expect(h.summary().violations).toEqual([violation]);
  });

  it('remembers every answered id, not only recent ones', () => {
    const h = checker();
    for (let i = 2; i < 3000; i++) {
      h.sent(`c${i}`, { op: 'get' });
      h.shown(`c${i} ok 5`);
    }
    h.shown('c1 ok 6');
    expect(h.summary().violations).toEqual(['contradicted: id c1 was answered "c1 ok 5", now "c1 ok 6"']);
  });

  it('audits the serving ledger: a different stored reply for an id never asked again, a lost add after the last reply', () => {
    const h = checker();
    h.sent('c2', { op: 'add', amount: 2 });
    h.shown('c2 ok 7');
    const found = h.audit({ storedReply: (id) => (id === 'c1' ? 'c1 ok 6' : undefined), total: 5 }, 'PC B');
    expect(found).toEqual([
      'PC B holds "c1 ok 6" for c1; the client was shown "c1 ok 5"',
      'PC B holds nothing for c2; the client was shown "c2 ok 7"',
      "PC B's total is 5; acknowledged adds sum to 7",
    ]);
    expect(h.summary().audit).toBe(3);
  });

  it('an add still outstanding at the audit may or may not have been applied', () => {
    const h = checker();
    h.sent('c2', { op: 'add', amount: 2 });
    const ledger = (total: number) => ({ storedReply: (id: string) => (id === 'c1' ? 'c1 ok 5' : undefined), total });
    expect(h.audit(ledger(5))).toEqual([]);
    expect(h.audit(ledger(7))).toEqual([]);
    expect(h.audit(ledger(6))).toHaveLength(1);
  });
});
