// Failover status and COLO exit reasons, as QEMU's FailoverStatus and
// COLOExitReason. The status only moves by compare-and-set, so two triggers
// racing (a lost heartbeat and an operator) cannot both win.

export type FailoverStatus = 'none' | 'require' | 'active' | 'completed' | 'relaunch';

export type ExitReason = 'none' | 'request' | 'error' | 'processing';

export class Failover {
  private current: FailoverStatus = 'none';

  get status(): FailoverStatus {
    return this.current;
  }

  compareAndSet(expected: FailoverStatus, next: FailoverStatus): boolean {
    if (this.current !== expected) return false;
    this.current = next;
    return true;
  }
}
