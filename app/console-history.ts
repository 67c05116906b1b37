// The serial console a learner types in belongs to the service, not to one PC:
// after a failover the new primary's console goes on from what the learner saw
// on the old one. The guest on the new primary resumed from a checkpoint, so
// what the old PC printed after that checkpoint is kept as history, marked,
// and the new PC's own output follows it.

/** What a console history needs of a PC's console: its output kept, and the position after all of it. */
export interface ConsoleSource {
  readonly retained: string;
  readonly end: number;
}

/** At most this much carried history per PC: the terminal's scrollback holds less. */
const CARRIED_CHARS = 64 * 1024;

export class ConsoleHistory {
  private readonly carried = new WeakMap<ConsoleSource, { text: string; from: number }>();

  /** Everything the console of `pc` shows: what it carried over, then its own output since. */
  text(pc: ConsoleSource): string {
    const carried = this.carried.get(pc);
    if (!carried) return pc.retained;
    const own = pc.retained;
    // Positions count from the PC's first output; its console keeps the latest part.
    const ownSince = own.slice(Math.max(0, own.length - (pc.end - carried.from)));
    return carried.text + ownSince;
  }

  /** `to` took over from `from`: its console goes on from `from`'s, after `note`. Once per pair. */
  takeOver(from: ConsoleSource, to: ConsoleSource, note: string): boolean {
    if (this.carried.has(to)) return false;
    this.carried.set(to, { text: (this.text(from) + note).slice(-CARRIED_CHARS), from: to.end });
    return true;
  }
}
