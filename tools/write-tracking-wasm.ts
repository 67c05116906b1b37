// Rewrites v86's v86.wasm into a build that tracks the guest's writes to RAM
// (../shared/docs/write-tracking.md). Once every valid TLB entry carries
// TLB_READONLY, no guest write reaches RAM without either a page walk for
// writing (`do_page_walk`) or the JIT's dirty notice (`jit_dirty_page_ctx`).
// Both are wrapped: the original bodies move to new functions, and the
// wrappers mark the physical page in a byte map (one byte per 4 KiB page)
// before or after calling them. Added exports: the map's address, its length
// in pages, RAM's address (globals the engine sets), and `colo_rearm`, which
// sets TLB_READONLY on every valid TLB entry. Every existing index stays.
// Pinned to one build by sha256: its function indices and data addresses are
// facts of that build only.
import { createHash } from 'node:crypto';
import { TRACKING_EXPORTS } from '../engine/vm/write-tracking.ts';
import {
  body,
  emitModule,
  EXPORT_KIND,
  funcTypeBytes,
  functionNames,
  importCounts,
  nameBytes,
  parseModule,
  readFuncType,
  Reader,
  s32,
  SECTION,
  u32,
  VALTYPE,
  vector,
  vectorItems,
  type FuncType,
  type Section,
} from './wasm-binary.ts';

/** What is known of the one v86.wasm this rewrite is for (npm v86 0.5.462). */
export const PINNED_V86 = {
  version: '0.5.462+g5f9a90f',
  sha256: 'aa0d0e149d6b60063b85de4871e78505637ce92821e14a9f9802c4008ba2336e',
  /** (addr, for_writing, user, jit, side_effects) → TLB entry, 0 on a page fault. */
  pageWalk: { index: 1624, name: 'do_page_walk' },
  /** (jit state, physical page) → (). */
  dirtyPage: { index: 1826, name: 'jit_dirty_page_ctx' },
  tlbData: 4283748,
  validTlbEntries: 4243748,
  validTlbEntriesCount: 4243744,
} as const;

const TLB_READONLY = 2;
const TLB_IN_MAPPED_RANGE = 8;

const I32 = VALTYPE.i32;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Store8: 0x3a,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  void: 0x40,
} as const;

const local = (index: number) => [op.localGet, ...u32(index)];
const global = (index: number) => [op.globalGet, ...u32(index)];
const i32 = (value: number) => [op.i32Const, ...s32(value)];
const call = (index: number) => [op.call, ...u32(index)];
/** An aligned i32 load or store, `offset` bytes past the address on the stack. */
const load = (offset: number) => [op.i32Load, 2, ...u32(offset)];
const store = (offset: number) => [op.i32Store, 2, ...u32(offset)];

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The tracking build of `original`, or an error saying why this build is not the pinned one. */
export function writeTrackingWasm(original: Uint8Array): Uint8Array {
  const hash = sha256(original);
  if (hash !== PINNED_V86.sha256) throw new Error(`v86.wasm sha256 ${hash} is not the pinned build ${PINNED_V86.sha256} (v86 ${PINNED_V86.version})`);
  const sections = parseModule(original);
  const find = (id: number): Section => {
    const section = sections.find((s) => s.id === id);
    if (!section) throw new Error(`wasm: no section ${id}`);
    return section;
  };
  const names = functionNames(sections);
  for (const { index, name } of [PINNED_V86.pageWalk, PINNED_V86.dirtyPage]) {
    if (!names.get(index)?.endsWith(name)) throw new Error(`wasm: function ${index} is ${names.get(index)}, not ${name}`);
  }

  const imported = importCounts(sections.find((s) => s.id === SECTION.import)?.payload);
  const typeSection = find(SECTION.type);
  const types: FuncType[] = [];
  const typeItems = vectorItems(typeSection.payload, (r) => void types.push(readFuncType(r)));
  const functionSection = find(SECTION.function);
  const funcTypes = vectorItems(functionSection.payload, (r) => void r.u32()).map((item) => new Uint8Array(item));
  const typeOf = (index: number) => funcTypes[index - imported.functions];
  const codeSection = find(SECTION.code);
  const bodies = vectorItems(codeSection.payload, (r) => void r.take(r.u32()));
  const globalSection = find(SECTION.global);
  const globalItems = vectorItems(globalSection.payload, (r) => {
    r.u8();
    r.u8();
    while (r.u8() !== op.end);
  });
  const exportSection = find(SECTION.export);
  const exportItems = vectorItems(exportSection.payload, (r) => {
    r.name();
    r.u8();
    r.u32();
  });

  const walkType = typeOf(PINNED_V86.pageWalk.index);
  const dirtyType = typeOf(PINNED_V86.dirtyPage.index);
  if (!walkType || !dirtyType) throw new Error('wasm: the pinned functions are not defined in this module');
  const signature = (t: Uint8Array) => JSON.stringify(types[new Reader(t).u32()]);
  if (signature(walkType) !== JSON.stringify({ params: [I32, I32, I32, I32, I32], results: [I32] }))
    throw new Error('wasm: do_page_walk has another signature');
  if (signature(dirtyType) !== JSON.stringify({ params: [I32, I32], results: [] })) throw new Error('wasm: jit_dirty_page_ctx has another signature');

  // New types (appended: existing type indices stay).
  const markTypeIndex = types.length;
  const rearmTypeIndex = types.length + 1;
  const newTypes = [funcTypeBytes({ params: [I32], results: [] }), funcTypeBytes({ params: [], results: [] })];

  // New functions, numbered after every existing one.
  const firstNew = imported.functions + bodies.length;
  const fn = { walkOriginal: firstNew, dirtyOriginal: firstNew + 1, mark: firstNew + 2, rearm: firstNew + 3 };
  // New globals, numbered after every existing one.
  const firstGlobal = imported.globals + globalItems.length;
  const g = { map: firstGlobal, pages: firstGlobal + 1, ramBase: firstGlobal + 2 };

  const walkIndex = PINNED_V86.pageWalk.index - imported.functions;
  const dirtyIndex = PINNED_V86.dirtyPage.index - imported.functions;
  const walkBody = bodies[walkIndex];
  const dirtyBody = bodies[dirtyIndex];
  if (!walkBody || !dirtyBody) throw new Error('wasm: missing function bodies');

  // do_page_walk(addr, for_writing, user, jit, side_effects): a walk for writing
  // that installs a writable entry marks the physical page it maps. The entry
  // is (physical + RAM base) ^ (virtual page << 12) | flags.
  const entry = 5;
  const walkWrapper = body(
    [[1, I32]],
    [
      ...local(0),
      ...local(1),
      ...local(2),
      ...local(3),
      ...local(4),
      ...call(fn.walkOriginal),
      op.localTee,
      entry,
      op.if,
      op.void,
      ...local(1),
      op.if,
      op.void,
      ...local(entry),
      ...i32(TLB_IN_MAPPED_RANGE),
      op.i32And,
      op.i32Eqz,
      op.if,
      op.void,
      ...local(entry),
      ...i32(-4096),
      op.i32And,
      ...local(0),
      ...i32(-4096),
      op.i32And,
      op.i32Xor,
      ...global(g.ramBase),
      op.i32Sub,
      ...i32(12),
      op.i32ShrU,
      ...call(fn.mark),
      op.end,
      op.end,
      op.end,
      ...local(entry),
    ],
  );
  // jit_dirty_page_ctx(state, page): every write v86 makes to RAM by physical address.
  const dirtyWrapper = body([], [...local(1), ...call(fn.mark), ...local(0), ...local(1), ...call(fn.dirtyOriginal)]);
  // mark(page): map[page] = 1 for a page of RAM (a map of 0 pages marks nothing).
  const markBody = body(
    [],
    [...local(0), ...global(g.pages), op.i32LtU, op.if, op.void, ...global(g.map), ...local(0), op.i32Add, ...i32(1), op.i32Store8, 0, 0, op.end],
  );
  // rearm(): TLB_READONLY on every valid TLB entry, so the next write to each page walks again.
  const [i, n, at, value] = [0, 1, 2, 3];
  const rearmBody = body(
    [[4, I32]],
    [
      ...i32(0),
      ...load(PINNED_V86.validTlbEntriesCount),
      op.localSet,
      n,
      op.block,
      op.void,
      op.loop,
      op.void,
      ...local(i),
      ...local(n),
      op.i32GeU,
      op.brIf,
      1,
      ...local(i),
      ...i32(2),
      op.i32Shl,
      ...load(PINNED_V86.validTlbEntries),
      ...i32(2),
      op.i32Shl,
      ...i32(PINNED_V86.tlbData),
      op.i32Add,
      op.localTee,
      at,
      ...load(0),
      op.localTee,
      value,
      op.if,
      op.void,
      ...local(at),
      ...local(value),
      ...i32(TLB_READONLY),
      op.i32Or,
      ...store(0),
      op.end,
      ...local(i),
      ...i32(1),
      op.i32Add,
      op.localSet,
      i,
      op.br,
      0,
      op.end,
      op.end,
    ],
  );

  const newBodies = [...bodies];
  newBodies[walkIndex] = walkWrapper;
  newBodies[dirtyIndex] = dirtyWrapper;
  newBodies.push(walkBody, dirtyBody, markBody, rearmBody);

  const mutableI32 = [I32, 1, ...i32(0), op.end];
  const exports = [
    [...nameBytes(TRACKING_EXPORTS.map), EXPORT_KIND.global, ...u32(g.map)],
    [...nameBytes(TRACKING_EXPORTS.pages), EXPORT_KIND.global, ...u32(g.pages)],
    [...nameBytes(TRACKING_EXPORTS.ramBase), EXPORT_KIND.global, ...u32(g.ramBase)],
    [...nameBytes(TRACKING_EXPORTS.rearm), EXPORT_KIND.function, ...u32(fn.rearm)],
  ];

  const replaced = new Map<number, Uint8Array>([
    [SECTION.type, vector([...typeItems, ...newTypes])],
    [SECTION.function, vector([...funcTypes, walkType, dirtyType, u32(markTypeIndex), u32(rearmTypeIndex)])],
    [SECTION.global, vector([...globalItems, mutableI32, mutableI32, mutableI32])],
    [SECTION.export, vector([...exportItems, ...exports])],
    [SECTION.code, vector(newBodies)],
  ]);
  return emitModule(sections.map((s) => ({ id: s.id, payload: replaced.get(s.id) ?? s.payload })));
}
