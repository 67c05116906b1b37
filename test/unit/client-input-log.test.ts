import { describe, expect, it } from 'vitest';
import { ClientInputLog } from '../../engine/vm/client-input-log.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => (data ? new TextDecoder().decode(data) : undefined);

describe('ClientInputLog', () => {
  it('gives the stream from a position, keeps the newest bytes, and restarts at a gap', () => {
    const log = new ClientInputLog(8);
    log.append(bytes('abc'));
    log.append(bytes('def'), 3);
    expect(log.end).toBe(6);
    expect(text(log.from(2))).toBe('cdef');
    expect(text(log.from(6))).toBe('');
    expect(log.from(7)).toBeUndefined();
    log.append(bytes('ghijk'));
    expect(text(log.from(3))).toBe('defghijk');
    expect(log.from(2)).toBeUndefined();
    // A mirrored line from further on: what lies between was never seen here.
    log.append(bytes('xy'), 20);
    expect(log.from(11)).toBeUndefined();
    expect(text(log.from(20))).toBe('xy');
  });
});
