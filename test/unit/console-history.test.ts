// A console carried across a takeover: the failed PC's output, a note, then the new PC's own output since.
import { describe, expect, it } from 'vitest';
import { ConsoleHistory, type ConsoleSource } from '../../app/console-history.ts';
import { Transcript } from '../../engine/shared/transcript.ts';

function pc(): ConsoleSource & { print(text: string): void } {
  const transcript = new Transcript();
  return {
    get retained() {
      return transcript.retained;
    },
    get end() {
      return transcript.end;
    },
    print: (text) => transcript.append(text),
  };
}

describe('console history', () => {
  it('goes on from the failed PC, leaving out what the new PC printed before it took over', () => {
    const history = new ConsoleHistory();
    const a = pc();
    const b = pc();
    a.print('colo:/# echo hi\r\nhi\r\n');
    b.print('output of a standby secondary running in compare mode\r\n');
    expect(history.text(a)).toBe('colo:/# echo hi\r\nhi\r\n');
    expect(history.takeOver(a, b, '-- A failed --\r\n')).toBe(true);
    b.print('colo:/# ');
    expect(history.text(b)).toBe('colo:/# echo hi\r\nhi\r\n-- A failed --\r\ncolo:/# ');
    // Heard again (every state change asks), it changes nothing.
    expect(history.takeOver(a, b, '-- again --')).toBe(false);
    // And the next takeover carries all of it on.
    const c = pc();
    history.takeOver(b, c, '-- B failed --\r\n');
    c.print('$ ');
    expect(history.text(c)).toBe('colo:/# echo hi\r\nhi\r\n-- A failed --\r\ncolo:/# -- B failed --\r\n$ ');
  });
});
