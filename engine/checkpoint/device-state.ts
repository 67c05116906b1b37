// v86's device and CPU state as a JSON skeleton plus typed arrays, the way
// v86's own save_state walks it (src/state.js: save_object/restore_buffers),
// but without copying the arrays: they stay views into the live devices.

export type TypedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

const CONSTRUCTORS = { Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array } as const;
type TypeName = keyof typeof CONSTRUCTORS;
type TypedArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;

export interface FlatDevices {
  /** JSON-able; typed arrays replaced by { __state_type__, buffer_id }, Maps by { __state_type__: 'Map', args }. */
  tree: unknown;
  /** The typed arrays, in buffer_id order: live, so copied out (copyArray) before the VM runs again. */
  buffers: TypedArray[];
}

interface Stateful {
  get_state(): unknown[];
}

/**
 * Copies `array`'s bytes to `offset` in `target` (aligned to its element
 * size). Through a view of the same type, never through `array.buffer`:
 * asking a small array for its buffer makes V8 move it off its heap, which
 * took ~1 ms of a checkpoint pause for one 16-byte array of v86's CPU state.
 */
export function copyArray(target: ArrayBufferLike, offset: number, array: TypedArray): void {
  new (array.constructor as TypedArrayConstructor)(target, offset, array.length).set(array);
}

/**
 * Walks a state root into a FlatDevices, again and again (each checkpoint).
 * `leaveOut`: arrays that are not state (caches the VM rebuilds on load); each
 * becomes null in the skeleton.
 */
export class DeviceStateReader {
  // v86 wraps its views of WebAssembly memory in Proxies (so they follow
  // memory growth) that build a fresh typed array on every property read:
  // for each, one real array on the same memory is made once, and again
  // only once the memory grew (the old one then reads as 0 bytes, detached).
  private readonly proxied = new WeakMap<object, { type: TypeName; array: TypedArray; byteLength: number }>();

  constructor(private readonly leaveOut: ReadonlySet<object> = new Set()) {}

  read(root: unknown): FlatDevices {
    const buffers: TypedArray[] = [];
    const walk = (value: unknown): unknown => {
      if (typeof value !== 'object' || value === null) return value;
      if (this.leaveOut.has(value)) return null;
      if (Array.isArray(value)) return value.map(walk);
      if (value instanceof Map) return { __state_type__: 'Map', args: [...value.entries()].map(([k, v]) => [walk(k), walk(v)]) };
      const typed = this.typedArray(value);
      if (typed) {
        buffers.push(typed.array);
        return { __state_type__: typed.type, buffer_id: buffers.length - 1 };
      }
      if (typeof (value as Partial<Stateful>).get_state !== 'function') {
        throw new Error(`device state: ${value.constructor.name} has no get_state`);
      }
      return (value as Stateful).get_state().map(walk);
    };
    return { tree: walk(root), buffers };
  }

  /** The typed array `value` is or stands for (ArrayBuffer.isView does not see through a Proxy: its shape is tested), or undefined. */
  private typedArray(value: object): { type: TypeName; array: TypedArray } | undefined {
    if (ArrayBuffer.isView(value)) return { type: typeName(value.constructor.name), array: value as TypedArray };
    const known = this.proxied.get(value);
    if (known && known.array.byteLength === known.byteLength) return known;
    const proxy = value as Partial<TypedArray>;
    if (typeof proxy.BYTES_PER_ELEMENT !== 'number') return undefined;
    const type = typeName(String(proxy.constructor?.name).replace('bound ', ''));
    const array = new CONSTRUCTORS[type](proxy.buffer as ArrayBuffer, proxy.byteOffset as number, proxy.length as number);
    this.proxied.set(value, { type, array, byteLength: array.byteLength });
    return { type, array };
  }
}

function typeName(name: string): TypeName {
  if (!(name in CONSTRUCTORS)) throw new Error(`device state: unexpected array type ${name}`);
  return name as TypeName;
}

/** v86's CPU state nests a few levels deep (devices, their parts); a received one nested far deeper is not v86's. */
export const MAX_STATE_DEPTH = 64;

/** The inverse: a fresh structure whose typed arrays view `bytes(buffer_id)`; the tree is not modified. */
export function rebuildDevices(tree: unknown, bytes: (id: number) => Uint8Array): unknown {
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (depth > MAX_STATE_DEPTH) throw new Error(`device state: nested deeper than ${MAX_STATE_DEPTH} levels`);
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
    const node = value as { __state_type__?: unknown; buffer_id?: unknown; args?: unknown };
    if (node.__state_type__ === 'Map' && Array.isArray(node.args)) return new Map(node.args as [unknown, unknown][]);
    const type = node.__state_type__;
    if (typeof type !== 'string' || !(type in CONSTRUCTORS) || typeof node.buffer_id !== 'number') {
      throw new Error(`device state: unknown node ${JSON.stringify(value).slice(0, 80)}`);
    }
    const Ctor = CONSTRUCTORS[type as TypeName];
    const view = bytes(node.buffer_id);
    if (view.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`device state: buffer ${node.buffer_id} does not hold whole ${type} elements`);
    return new Ctor(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength / Ctor.BYTES_PER_ELEMENT);
  };
  return walk(tree, 0);
}

/**
 * The top-level entries of `now` (v86: one per device) equal to those of
 * `before`, skeleton and contents: neither differs, nor names a buffer in
 * `changedBuffers`.
 */
export function sameEntries(now: readonly unknown[], before: readonly unknown[], changedBuffers: ReadonlySet<number>): Set<number> {
  const same = new Set<number>();
  now.forEach((entry, i) => {
    if (equalTrees(entry, before[i]) && !namesAny(entry, changedBuffers)) same.add(i);
  });
  return same;
}

function equalTrees(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => equalTrees(item, b[i]));
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => equalTrees((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function namesAny(tree: unknown, buffers: ReadonlySet<number>): boolean {
  if (buffers.size === 0 || typeof tree !== 'object' || tree === null) return false;
  if (Array.isArray(tree)) return tree.some((item) => namesAny(item, buffers));
  const node = tree as { buffer_id?: unknown; args?: unknown };
  if (typeof node.buffer_id === 'number') return buffers.has(node.buffer_id);
  return namesAny(node.args, buffers);
}
