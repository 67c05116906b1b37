// What each page of the booted snapshot's RAM was, in 16 bytes a page: taken
// once, when a VM is built from the snapshot and has not run. A VM that ran
// since (a survivor, a primary whose secondary died) keeps no copy of that
// RAM, yet can still give a new secondary standing by on the snapshot only
// the pages that differ from it: those whose digest no longer matches. A
// digest is the checkpoint checksum's four lanes over the page (a single
// changed word always changes its lane); the new secondary checks the RAM it
// ends up with against the primary's, so a page two digests could confuse is
// caught, never loaded silently.
import { CHECKSUM_SEED, PAGE_BYTES, type Kernels } from './kernels.ts';
import type { WasmArena, Region } from './wasm-arena.ts';

const LANES = 4;

export class BaseDigests {
  private view: Uint32Array | undefined;

  private constructor(
    /** The snapshot's RAM checksum: the base a secondary names in its checkpoint-ready. */
    readonly ram: number,
    private readonly table: Uint32Array,
    private readonly kernels: Kernels,
    private readonly arena: WasmArena,
    private readonly lanes: Region,
  ) {}

  /** Digests every page of the RAM at `ramOffset`, which holds the booted snapshot whose RAM checksum is `ram`. */
  static take(kernels: Kernels, arena: WasmArena, ramOffset: number, ramBytes: number, ram: number): BaseDigests {
    const digests = new BaseDigests(ram, new Uint32Array((ramBytes / PAGE_BYTES) * LANES), kernels, arena, arena.alloc(16));
    for (let page = 0; page < ramBytes / PAGE_BYTES; page++) digests.table.set(digests.digest(ramOffset, page), page * LANES);
    return digests;
  }

  /** Whether page `page` of the RAM at `ramOffset` differs from the snapshot's. */
  differs(ramOffset: number, page: number): boolean {
    const now = this.digest(ramOffset, page);
    const at = page * LANES;
    for (let i = 0; i < LANES; i++) if (now[i] !== this.table[at + i]) return true;
    return false;
  }

  /** The four lanes of the checksum over one page (a view, valid until the next call). */
  private digest(ramOffset: number, page: number): Uint32Array {
    if (this.view?.buffer !== this.arena.memory.buffer) this.view = new Uint32Array(this.arena.memory.buffer, this.lanes.offset, LANES);
    const lanes = this.view;
    lanes.fill(CHECKSUM_SEED);
    this.kernels.checksum(ramOffset + page * PAGE_BYTES, PAGE_BYTES, this.lanes.offset);
    return lanes;
  }
}
