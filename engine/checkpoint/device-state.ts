// v86's device and CPU state as a JSON skeleton plus typed arrays, the way
// v86's own save_state walks it (src/state.js: save_object/restore_buffers),
// but without copying the arrays: they stay views into the live devices.

type TypedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

const CONSTRUCTORS = { Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array } as const;
type TypeName = keyof typeof CONSTRUCTORS;

export interface FlatDevices {
  /** JSON-able; typed arrays replaced by { __state_type__, buffer_id }, Maps by { __state_type__: 'Map', args }. */
  tree: unknown;
  /** The typed arrays, in buffer_id order, as byte views. */
  buffers: Uint8Array[];
}

interface Stateful {
  get_state(): unknown[];
}

export function flattenDevices(root: unknown): FlatDevices {
  const buffers: Uint8Array[] = [];
  const walk = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map(walk);
    if (value instanceof Map) return { __state_type__: 'Map', args: [...value.entries()].map(([k, v]) => [walk(k), walk(v)]) };
    // v86 wraps its views of WebAssembly memory in Proxies (so they follow
    // memory growth), which ArrayBuffer.isView does not recognise: test the shape.
    if (typeof (value as Partial<TypedArray>).BYTES_PER_ELEMENT === 'number') {
      const array = value as TypedArray;
      const type = array.constructor.name.replace('bound ', '');
      if (!(type in CONSTRUCTORS)) throw new Error(`device state: unexpected array type ${type}`);
      buffers.push(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return { __state_type__: type, buffer_id: buffers.length - 1 };
    }
    if (typeof (value as Partial<Stateful>).get_state !== 'function') {
      throw new Error(`device state: ${value.constructor.name} has no get_state`);
    }
    return (value as Stateful).get_state().map(walk);
  };
  return { tree: walk(root), buffers };
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
