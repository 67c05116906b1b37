// Events leave a worker in one message per task, not one per event.

export class EventBatcher<E> {
  private pending: E[] = [];
  private queued = false;

  constructor(private readonly deliver: (events: E[]) => void) {}

  push(event: E): void {
    this.pending.push(event);
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      const batch = this.pending;
      this.pending = [];
      this.deliver(batch);
    });
  }
}
