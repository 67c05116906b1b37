// Buffers the checkpoint kernels work on, carved out of the VM's WebAssembly
// memory by growing it: the kernels can only address that one memory. v86
// never touches pages past its own allocations, and its views of the memory
// follow growth. Regions are kept for the worker's life and only replaced
// when a bigger one is needed, so steady-state checkpoints allocate nothing.

const WASM_PAGE = 65536;

export interface Region {
  offset: number;
  capacity: number;
}

export class WasmArena {
  private view: Uint8Array | undefined;

  constructor(readonly memory: WebAssembly.Memory) {}

  /** A zero-filled region of at least `bytes`, 64 KiB aligned. */
  alloc(bytes: number): Region {
    const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
    const offset = this.memory.grow(pages) * WASM_PAGE;
    return { offset, capacity: pages * WASM_PAGE };
  }

  /** `region` if it holds `bytes`, else a new one (the old one is not reused). */
  ensure(region: Region | undefined, bytes: number): Region {
    return region && region.capacity >= bytes ? region : this.alloc(bytes);
  }

  /** The whole memory as bytes; a new view after the memory grew. */
  bytes(): Uint8Array {
    if (this.view?.buffer !== this.memory.buffer) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }
}
