// Just enough of the WebAssembly binary format to add functions, globals and
// exports to a module and to replace function bodies, leaving every existing
// index where it was (https://webassembly.github.io/spec/core/binary/).

export const SECTION = { custom: 0, type: 1, import: 2, function: 3, global: 6, export: 7, code: 10 } as const;
export const VALTYPE = { i32: 0x7f } as const;
export const EXPORT_KIND = { function: 0, global: 3 } as const;

export interface Section {
  id: number;
  payload: Uint8Array;
}

export interface FuncType {
  params: number[];
  results: number[];
}

export class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  u8(): number {
    const byte = this.bytes[this.pos++];
    if (byte === undefined) throw new Error(`wasm: unexpected end at byte ${this.pos - 1}`);
    return byte;
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error(`wasm: LEB128 too long at byte ${this.pos}`);
  }

  take(length: number): Uint8Array {
    if (this.pos + length > this.bytes.length) throw new Error(`wasm: ${length} bytes past the end at ${this.pos}`);
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  name(): string {
    return new TextDecoder().decode(this.take(this.u32()));
  }

  /** Skips table or memory limits. */
  limits(): void {
    const flags = this.u8();
    this.u32();
    if (flags & 1) this.u32();
  }
}

export function u32(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    const byte = rest & 0x7f;
    rest >>>= 7;
    out.push(rest === 0 ? byte : byte | 0x80);
  } while (rest !== 0);
  return out;
}

export function s32(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    const last = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0);
    out.push(last ? byte : byte | 0x80);
    if (last) return out;
  }
}

export function nameBytes(name: string): number[] {
  const bytes = new TextEncoder().encode(name);
  return [...u32(bytes.length), ...bytes];
}

export function parseModule(bytes: Uint8Array): Section[] {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error('wasm: not a WebAssembly version 1 module');
  const reader = new Reader(bytes);
  reader.pos = 8;
  const sections: Section[] = [];
  while (!reader.done) {
    const id = reader.u8();
    sections.push({ id, payload: reader.take(reader.u32()) });
  }
  return sections;
}

export function emitModule(sections: readonly Section[]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])];
  for (const { id, payload } of sections) parts.push(new Uint8Array([id, ...u32(payload.length)]), payload);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The entries of a vector section (`count` then items), each item's bytes as found by `skip`. */
export function vectorItems(payload: Uint8Array, skip: (reader: Reader) => void): Uint8Array[] {
  const reader = new Reader(payload);
  const count = reader.u32();
  const items: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = reader.pos;
    skip(reader);
    items.push(payload.subarray(start, reader.pos));
  }
  if (!reader.done) throw new Error('wasm: bytes after the last item of a section');
  return items;
}

export function vector(items: readonly (Uint8Array | number[])[]): Uint8Array {
  const head = u32(items.length);
  const out = new Uint8Array(head.length + items.reduce((n, item) => n + item.length, 0));
  out.set(head, 0);
  let at = head.length;
  for (const item of items) {
    out.set(item, at);
    at += item.length;
  }
  return out;
}

export function readFuncType(reader: Reader): FuncType {
  const form = reader.u8();
  if (form !== 0x60) throw new Error(`wasm: type form 0x${form.toString(16)} is not a function type`);
  const params = Array.from({ length: reader.u32() }, () => reader.u8());
  const results = Array.from({ length: reader.u32() }, () => reader.u8());
  return { params, results };
}

export function funcTypeBytes(type: FuncType): number[] {
  return [0x60, ...u32(type.params.length), ...type.params, ...u32(type.results.length), ...type.results];
}

/** Counts of imported functions and globals: defined ones are numbered after them. */
export function importCounts(payload: Uint8Array | undefined): { functions: number; globals: number } {
  const counts = { functions: 0, globals: 0 };
  if (!payload) return counts;
  vectorItems(payload, (reader) => {
    reader.name();
    reader.name();
    const kind = reader.u8();
    if (kind === 0) {
      reader.u32();
      counts.functions++;
    } else if (kind === 1) {
      reader.u8();
      reader.limits();
    } else if (kind === 2) {
      reader.limits();
    } else if (kind === 3) {
      reader.u8();
      reader.u8();
      counts.globals++;
    } else {
      throw new Error(`wasm: import kind ${kind} unknown`);
    }
  });
  return counts;
}

/** Function names from the custom "name" section (index → name). */
export function functionNames(sections: readonly Section[]): Map<number, string> {
  const names = new Map<number, string>();
  for (const section of sections) {
    if (section.id !== SECTION.custom) continue;
    const reader = new Reader(section.payload);
    if (reader.name() !== 'name') continue;
    while (!reader.done) {
      const id = reader.u8();
      const sub = new Reader(reader.take(reader.u32()));
      if (id !== 1) continue;
      const count = sub.u32();
      for (let i = 0; i < count; i++) {
        const index = sub.u32();
        names.set(index, sub.name());
      }
    }
  }
  return names;
}

/** A function body: local declarations (count, type) and code ending in `end`. */
export function body(locals: readonly [number, number][], code: readonly number[]): Uint8Array {
  const bytes = [...u32(locals.length), ...locals.flatMap(([n, type]) => [...u32(n), type]), ...code, 0x0b];
  return new Uint8Array([...u32(bytes.length), ...bytes]);
}
