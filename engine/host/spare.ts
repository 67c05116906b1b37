// The spare: the PC the host starts in standby (a worker, v86, the booted
// snapshot restored) as soon as a pair is unprotected, so that re-protection
// need not wait for one to boot. The policy says when one starts, is given up
// or joins a pair (engine/host/host-core.ts); this starts it, arms it for a
// reboot once the service's PCs are, and reports when it is ready.
import type { ClusterNode } from '../replication/commands.ts';

export interface SpareEvents {
  /** Whether the policy still wants the spare of this name (it may have given it up and started another). */
  wanted(name: string): boolean;
  ready(): void;
  failed(error: string): void;
}

export class SpareSlot<N extends ClusterNode> {
  /** The PC starting, or waiting, in standby. */
  node: N | undefined;
  /** Once set, every spare is armed for a reboot before it is ready. */
  private rebootArmed = false;

  constructor(
    private readonly spawn: (name: string) => N | Promise<N>,
    private readonly assetBase: string,
    private readonly events: SpareEvents,
  ) {}

  async start(name: string): Promise<void> {
    try {
      const spawned = this.spawn(name);
      const fresh = spawned instanceof Promise ? await spawned : spawned;
      if (!this.events.wanted(name)) {
        fresh.terminate();
        return;
      }
      this.node = fresh;
      await fresh.start({ mode: 'standby', assetBase: this.assetBase });
      if (this.rebootArmed) await fresh.armReboot();
    } catch (err) {
      if (this.events.wanted(name)) this.events.failed(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.events.wanted(name)) this.events.ready();
  }

  /**
   * Every spare from now on is armed for a reboot before it is ready (v86's
   * BIOS reads the kernel's option ROM from the PC itself, so a spare that
   * took over in the middle of a reboot would find none); `ready`: the one
   * waiting now, armed at once.
   */
  async armReboot(ready: boolean): Promise<void> {
    this.rebootArmed = true;
    if (ready && this.node?.alive) await this.node.armReboot();
  }

  /** The spare joins a pair: it is no longer the slot's. */
  take(): N | undefined {
    const node = this.node;
    this.node = undefined;
    return node;
  }

  end(): void {
    this.node?.terminate();
    this.node = undefined;
  }
}
