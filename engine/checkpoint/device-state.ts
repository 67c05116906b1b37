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

/** A typed array of the state as the walk found it: its type and its bytes. */
interface ArrayView {
  type: TypeName;
  bytes: Uint8Array;
}

/**
 * Walks a state root into a FlatDevices, again and again (each checkpoint).
 * `leaveOut`: arrays that are not state (caches the VM rebuilds on load); each
 * becomes null in the skeleton.
 */
export class DeviceStateReader {
  // v86 wraps its views of WebAssembly memory in Proxies (so they follow
  // memory growth) that build a fresh typed array on every property read:
  // each array's type and byte view are worked out once, and again only
  // once the memory grew (the old view then reads as 0 bytes long, detached).
  private readonly views = new WeakMap<object, ArrayView & { byteLength: number }>();

  constructor(private readonly leaveOut: ReadonlySet<object> = new Set()) {}

  read(root: unknown): FlatDevices {
    const buffers: Uint8Array[] = [];
    const walk = (value: unknown): unknown => {
      if (typeof value !== 'object' || value === null) return value;
      if (this.leaveOut.has(value)) return null;
      if (Array.isArray(value)) return value.map(walk);
      if (value instanceof Map) return { __state_type__: 'Map', args: [...value.entries()].map(([k, v]) => [walk(k), walk(v)]) };
      const array = this.viewOf(value);
      if (array) {
        buffers.push(array.bytes);
        return { __state_type__: array.type, buffer_id: buffers.length - 1 };
      }
      if (typeof (value as Partial<Stateful>).get_state !== 'function') {
        throw new Error(`device state: ${value.constructor.name} has no get_state`);
      }
      return (value as Stateful).get_state().map(walk);
    };
    return { tree: walk(root), buffers };
  }

  /** The typed array `value` is (ArrayBuffer.isView does not see through v86's Proxies: the shape is tested), or undefined. */
  private viewOf(value: object): ArrayView | undefined {
    const known = this.views.get(value);
    if (known && known.bytes.byteLength === known.byteLength) return known;
    if (typeof (value as Partial<TypedArray>).BYTES_PER_ELEMENT !== 'number') return undefined;
    const array = value as TypedArray;
    const type = array.constructor.name.replace('bound ', '');
    if (!(type in CONSTRUCTORS)) throw new Error(`device state: unexpected array type ${type}`);
    const view = { type: type as TypeName, bytes: new Uint8Array(array.buffer, array.byteOffset, array.byteLength) };
    this.views.set(value, { ...view, byteLength: view.bytes.byteLength });
    return view;
  }
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
