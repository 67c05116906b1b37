// The listeners of one kind of event: added with a way to remove them, and
// called in the order they came. A call reaches those present when it began,
// so a listener that adds or removes another changes only the next call.
export class Listeners<A extends unknown[] = []> {
  private readonly set = new Set<(...args: A) => void>();

  /** Returns how to remove `listener` again. */
  add(listener: (...args: A) => void): () => void {
    this.set.add(listener);
    return () => void this.set.delete(listener);
  }

  emit(...args: A): void {
    for (const listener of [...this.set]) listener(...args);
  }

  clear(): void {
    this.set.clear();
  }
}
