// The VM's write marks as the delta path uses them, on either side: a byte
// map in the VM's memory that v86 marks for each page the guest writes, and
// whether it covers every write since RAM last equalled the copy it is
// compared with. Changed pages come from the marks where they are complete,
// from comparing all of RAM where they are not.
import { markMapBytes, type Kernels } from './kernels.ts';
import type { MachineStateAccess, WriteTracker } from './machine-state.ts';
import type { Region, WasmArena } from './wasm-arena.ts';

export class MissedWritesError extends Error {
  override name = 'MissedWritesError';
}

export type Tracking = 'write' | 'scan';

export class WriteMarks {
  /** The marks cover every write since the last fresh `arm` (no load, restore or reset since). */
  private valid = false;
  private untrackedSeen = 0;

  private constructor(
    private readonly tracker: WriteTracker,
    private readonly map: Region,
    private readonly arena: WasmArena,
    private readonly kernels: Kernels,
    private readonly pages: number,
  ) {}

  /** The marks of `access`'s VM, or undefined where it does not track its writes. */
  static open(access: MachineStateAccess, arena: WasmArena, kernels: Kernels, pages: number): WriteMarks | undefined {
    const { writes } = access;
    if ('unavailable' in writes) return undefined;
    return new WriteMarks(writes, arena.alloc(markMapBytes(pages)), arena, kernels, pages);
  }

  /**
   * The VM is stopped and about to run: from now on its writes mark this map,
   * each page's first write again. `fresh`: RAM equals its copy now, so the map
   * starts empty; otherwise what was marked since the last fresh start stays.
   */
  arm(fresh: boolean): void {
    // Attached first: taking the marks over from another map counts as writes behind these.
    this.tracker.attach(this.map.offset);
    if (fresh || !this.valid) {
      this.arena.bytes().fill(0, this.map.offset, this.map.offset + markMapBytes(this.pages));
      this.untrackedSeen = this.tracker.untrackedWrites;
      this.valid = true;
    }
    this.tracker.rearm();
  }

  /** RAM was or will be written behind the marks: the next diff compares all of it. */
  invalidate(): void {
    this.valid = false;
  }

  /**
   * The pages of `cur` that differ from `copy`, listed at `list`, packed at
   * `out` and copied into `copy` (the kernels' contract): only the marked ones
   * when `useMarks` and the marks are complete. `verify` then compares all of
   * RAM too and throws, naming the pages, if any change was not marked (they
   * are copied all the same).
   */
  diff(cur: number, copy: number, list: number, out: number, useMarks: boolean, verify: boolean): { count: number; tracking: Tracking } {
    const { kernels, pages } = this;
    const tracked = useMarks && this.valid && this.tracker.untrackedWrites === this.untrackedSeen;
    if (!tracked) return { count: kernels.diffPages(cur, copy, pages, list, out), tracking: 'scan' };
    const count = kernels.diffMarked(cur, copy, pages, this.map.offset, list, out);
    if (verify) {
      const missedAt = list + 4 * count;
      const missed = kernels.diffPages(cur, copy, pages, missedAt, out + 4096 * count);
      if (missed > 0) {
        this.valid = false;
        const named = [...new Uint32Array(this.arena.memory.buffer, missedAt, Math.min(missed, 8))].map((p) => `${p} (0x${(p * 4096).toString(16)})`);
        throw new MissedWritesError(`write tracking missed ${missed} changed RAM page(s): ${named.join(', ')}${missed > 8 ? ', …' : ''}`);
      }
    }
    return { count, tracking: 'write' };
  }
}
