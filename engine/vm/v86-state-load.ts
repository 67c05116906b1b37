// v86's restore_state copies every buffer of a state out of it
// (ArrayBuffer.slice) before it loads them: for a booted snapshot that is 28 MB
// of packed RAM copied only to be copied again into guest RAM, then left as
// garbage that a worker collects late (the page's memory counted it for
// seconds after the load). This loads the same state the same way, through
// the CPU's own set_state, with the packed RAM read where it lies: v86 only
// copies from it (cpu.unpack_memory). Every other buffer is still copied, as
// devices may keep theirs.
//
// The state, as v86's save_state writes it (format version 6, see state-header.ts):
// after the JSON info block, 4-aligned buffers; in the info, a typed array is
// { __state_type__: its constructor's name, buffer_id } and a Map is
// { __state_type__: 'Map', args: its entries }. The CPU's field 77 is the
// packed RAM (its non-zero pages in address order).
import { StateError } from './state-header.ts';

const HEADER_BYTES = 16;
const PACKED_MEMORY_FIELD = 77;

const TYPED_ARRAYS = { Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array } as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

interface BufferInfo {
  offset: number;
  length: number;
}

interface StateInfo {
  state: unknown[];
  buffer_infos: BufferInfo[];
}

interface Encoded {
  __state_type__: string;
  buffer_id?: number;
  args?: unknown;
}

const isEncoded = (node: unknown): node is Encoded =>
  typeof node === 'object' && node !== null && !Array.isArray(node) && typeof (node as Encoded).__state_type__ === 'string';

/** The state's info block, and where each of its buffers lies (a buffer that does not fit the state is a StateError). */
function readInfo(state: ArrayBuffer): { info: StateInfo; bytesOf: (id: number) => { start: number; length: number } } {
  const infoBytes = new DataView(state).getInt32(12, true);
  const info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, HEADER_BYTES, infoBytes))) as StateInfo;
  const buffersStart = (HEADER_BYTES + infoBytes + 3) & ~3;
  const bytesOf = (id: number) => {
    const buffer = Array.isArray(info.buffer_infos) ? info.buffer_infos[id] : undefined;
    const start = buffersStart + (buffer?.offset ?? NaN);
    if (!buffer || !(start >= buffersStart && buffer.length >= 0 && start + buffer.length <= state.byteLength)) {
      throw new StateError(`state: corrupt, buffer #${id} does not fit in ${state.byteLength} bytes`);
    }
    return { start, length: buffer.length };
  };
  return { info, bytesOf };
}

/**
 * Loads `state` into `emulator`'s CPU without copying its packed RAM: true once
 * loaded; false if this v86 lacks what it needs (load it with restore_state).
 * The caller has checked the header (readStateSummary); a buffer that does not
 * fit the state is a StateError and loads nothing.
 */
export function loadStateInPlace(emulator: unknown, state: ArrayBuffer): boolean {
  const cpu = (emulator as { v86?: { cpu?: { set_state?: unknown } } }).v86?.cpu;
  if (typeof cpu?.set_state !== 'function') return false;
  const { info, bytesOf } = readInfo(state);
  const packed = info.state?.[PACKED_MEMORY_FIELD];
  if (!Array.isArray(info.buffer_infos) || !isEncoded(packed) || packed.__state_type__ !== 'Uint8Array') return false;
  const revive = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(revive);
    if (!isEncoded(node)) return node;
    // As v86 does: a Map's entries are taken as they are.
    if (node.args !== undefined) return new Map(node.args as [unknown, unknown][]);
    const Typed = TYPED_ARRAYS[node.__state_type__ as TypedArrayName];
    if (!Typed || typeof node.buffer_id !== 'number') throw new StateError(`state: corrupt, unknown field type ${node.__state_type__}`);
    const { start, length } = bytesOf(node.buffer_id);
    if (node === packed) return new Uint8Array(state, start, length);
    return new Typed(state.slice(start, start + length));
  };
  const revived = revive(info.state);
  (cpu.set_state as (fields: unknown) => void).call(cpu, revived);
  return true;
}
