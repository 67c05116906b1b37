// The delta path end to end on fake machines: two WebAssembly memories with
// "RAM" in them and a small device tree with get_state, as v86 has.
import { describe, expect, it, vi } from 'vitest';
import { DeltaApplier } from '../../engine/checkpoint/delta-apply.ts';
import { DeltaCapture, MissedWritesError } from '../../engine/checkpoint/delta-capture.ts';
import { checkDelta, deltaLayout, DELTA_HEADER_BYTES, DELTA_VERSION } from '../../engine/checkpoint/delta-format.ts';
import { DeviceStateReader, rebuildDevices } from '../../engine/checkpoint/device-state.ts';
import { BaseDigests } from '../../engine/checkpoint/base-digests.ts';
import { bindKernels, PAGE_BYTES } from '../../engine/checkpoint/kernels.ts';
import { WasmArena } from '../../engine/checkpoint/wasm-arena.ts';
import type { GuestDisk, MachineStateAccess, WriteTracker } from '../../engine/checkpoint/machine-state.ts';
import { DeltaSink, DeltaSource } from '../../engine/replication/delta-path.ts';
import { machineStatePaths } from '../../engine/worker/state-paths.ts';
import { openV86Disk } from '../../engine/vm/v86-disk.ts';
import * as sparsePages from '../../engine/checkpoint/sparse-pages.ts';
import { reseal } from '../support/wire.ts';
import { openDisk, SyncBuffer } from '../support/sync-buffer.ts';

// Counted, not changed: whether a reset scans the RAM shadow (see 'a reset of a shadow that holds only zeros').
vi.mock('../../engine/checkpoint/sparse-pages.ts', async (original) => {
  const real = await original<typeof sparsePages>();
  return { ...real, zeroSparse: vi.fn(real.zeroSparse) };
});

const RAM_BYTES = 256 * PAGE_BYTES;
const RAM_OFFSET = 65536;

class FakeDevice {
  registers = new Int32Array(8);
  screen = new Uint8Array(3 * PAGE_BYTES + 100);
  mode = 3;
  get_state(): unknown[] {
    return [this.mode, this.registers, this.screen, new Map([['a', 1]])];
  }
}

const DISK_BYTES = 16 * PAGE_BYTES;

class FakeMachine implements MachineStateAccess {
  readonly memory = new WebAssembly.Memory({ initial: (RAM_OFFSET + RAM_BYTES) / 65536 });
  readonly ramOffset = RAM_OFFSET;
  readonly ramBytes = RAM_BYTES;
  device = new FakeDevice();
  failNextWrite = false;
  deviceWrites = 0;
  writes: WriteTracker | { unavailable: string } = { unavailable: 'this fake does not track writes' };
  /** The guest's disk as v86 keeps it, seen through the engine's wrapper of it. */
  readonly sync = new SyncBuffer(DISK_BYTES);
  readonly disk: GuestDisk = openDisk(this.sync).disk;
  /** The guest writes `bytes` to its disk at `at`, as v86's IDE does. */
  writeDisk(at: number, bytes: number[]): void {
    this.sync.set(at, new Uint8Array(bytes), () => {});
  }
  diskBytes(): Buffer {
    return Buffer.from(this.sync.buffer);
  }

  ram(): Uint8Array {
    return new Uint8Array(this.memory.buffer, RAM_OFFSET, RAM_BYTES);
  }
  private readonly reader = new DeviceStateReader();
  readDevices() {
    return this.reader.read({ get_state: () => [this.device.mode, this.device] });
  }
  /** What each load said the VM held already. */
  held: (ReadonlySet<number> | undefined)[] = [];
  /** Each loaded state, as the VM was handed it. */
  loaded: unknown[] = [];
  writeDevices(tree: unknown, held?: ReadonlySet<number>): void {
    this.deviceWrites++;
    this.held.push(held);
    this.loaded.push(tree);
    if (this.failNextWrite) {
      this.failNextWrite = false;
      throw new Error('device refused');
    }
    const [, [mode, registers, screen]] = tree as [number, [number, Int32Array, Uint8Array]];
    this.device.mode = mode;
    this.device.registers.set(registers);
    this.device.screen.set(screen);
  }
}

function pair(): { primary: FakeMachine; secondary: FakeMachine; capture: DeltaCapture; applier: DeltaApplier } {
  const primary = new FakeMachine();
  const secondary = new FakeMachine();
  const ram = primary.ram();
  for (let page = 0; page < 40; page++) ram[page * PAGE_BYTES + (page % 7)] = page + 1;
  primary.device.registers.set([1, 2, 3, 4]);
  primary.device.screen.fill(0x20, 0, 2000);
  // The standby secondary holds junk that must not survive the first checkpoint.
  secondary.ram().fill(0xee);
  return { primary, secondary, capture: new DeltaCapture(primary), applier: new DeltaApplier(secondary) };
}

function send(capture: DeltaCapture, applier: DeltaApplier, checkpoint: number, tamper?: (bytes: Uint8Array) => void) {
  const delta = capture.capture(checkpoint);
  tamper?.(new Uint8Array(delta.payload, 0, delta.bytes));
  const verdict = applier.stage(delta.payload, delta.bytes, checkpoint);
  if (verdict === 'ok') applier.apply();
  capture.recycle(delta.payload);
  return { delta, verdict };
}

/** The digests of `machine`'s RAM as it is now, named as a snapshot with RAM checksum `ram`. */
function digestsOf(machine: FakeMachine, ram: number): BaseDigests {
  return BaseDigests.take(bindKernels(machine.memory), new WasmArena(machine.memory), RAM_OFFSET, RAM_BYTES, ram);
}

function expectSame(primary: FakeMachine, secondary: FakeMachine): void {
  expect(Buffer.from(secondary.ram()).equals(Buffer.from(primary.ram()))).toBe(true);
  expect(secondary.device.registers).toEqual(primary.device.registers);
  expect(secondary.device.screen).toEqual(primary.device.screen);
  expect(secondary.device.mode).toBe(primary.device.mode);
  expect(secondary.diskBytes().equals(primary.diskBytes())).toBe(true);
}

/** Marks by hand what a tracking VM would mark; counts re-arms. */
class HandTracker implements WriteTracker {
  map = -1;
  rearms = 0;
  untrackedWrites = 0;
  constructor(private readonly machine: FakeMachine) {}
  attach(map: number): void {
    if (map !== this.map) this.untrackedWrites++;
    this.map = map;
  }
  wroteBehind(): void {
    this.untrackedWrites++;
  }
  rearm(): void {
    this.rearms++;
  }
  /** The guest writes `value` at `at` in RAM, marked or not. */
  write(at: number, value: number, marked = true): void {
    this.machine.ram()[at] = value;
    if (marked) new Uint8Array(this.machine.memory.buffer)[this.map + Math.floor(at / PAGE_BYTES)] = 1;
  }
}

function trackedPair() {
  const primary = new FakeMachine();
  const tracker = new HandTracker(primary);
  primary.writes = tracker;
  const secondary = new FakeMachine();
  for (let page = 0; page < 40; page++) primary.ram()[page * PAGE_BYTES + (page % 7)] = page + 1;
  return { primary, secondary, tracker, capture: new DeltaCapture(primary), applier: new DeltaApplier(secondary) };
}

describe('delta checkpoints', () => {
  it('the first carries every non-zero page, the next only what changed; both leave the secondary identical', () => {
    const { primary, secondary, capture, applier } = pair();
    const first = send(capture, applier, 1);
    expect(first.verdict).toBe('ok');
    expect(first.delta).toMatchObject({ base: 0, ramPages: 40, devicePages: 1 });
    expectSame(primary, secondary);

    const idle = send(capture, applier, 2);
    expect(idle.delta).toMatchObject({ base: 1, ramPages: 0, devicePages: 0 });
    expect(idle.delta.bytes).toBeLessThan(1024);

    primary.ram()[100 * PAGE_BYTES + 5] = 9;
    primary.ram()[7 * PAGE_BYTES] = 0;
    primary.device.registers[7] = 77;
    primary.device.mode = 12;
    const busy = send(capture, applier, 3);
    expect(busy.delta).toMatchObject({ base: 2, ramPages: 2, devicePages: 1 });
    expectSame(primary, secondary);
    expect(applier.holds).toBe(3);
    // Buffers come back and are reused: one allocation for the whole run.
    expect(capture.allocations).toBe(1);
  });

  it('a reset of a shadow that holds only zeros does not scan it (fresh memory faults in page by page); one that holds a checkpoint is cleared', () => {
    const { primary, capture } = pair();
    const { zeroSparse } = sparsePages;
    vi.mocked(zeroSparse).mockClear();
    // A worker that stood by, then leads its first pair: its capture is new.
    capture.reset(false);
    expect(zeroSparse).not.toHaveBeenCalled();
    const secondary = new FakeMachine();
    expect(send(capture, new DeltaApplier(secondary), 1).delta).toMatchObject({ ramPages: 40 });
    expectSame(primary, secondary);
    // Its next pair: the shadow holds checkpoint 1 and must be cleared for a full copy.
    capture.reset(false);
    expect(zeroSparse).toHaveBeenCalledTimes(1);
    const next = new FakeMachine();
    expect(send(capture, new DeltaApplier(next), 1).delta).toMatchObject({ ramPages: 40 });
    expectSame(primary, next);
  });

  it('tells the VM which devices it holds already: those equal to the last load, when it has not run since', () => {
    const { primary, secondary, capture, applier } = pair();
    send(capture, applier, 1);
    expect(secondary.held.at(-1)).toBeUndefined();
    send(capture, applier, 2);
    expect(secondary.held.at(-1)).toEqual(new Set([0, 1]));
    // One register: a small buffer sharing its page with others, compared on its own.
    primary.device.registers[2] = 9;
    send(capture, applier, 3);
    expect(secondary.held.at(-1)).toEqual(new Set([0]));
    primary.device.screen[2 * PAGE_BYTES + 1] = 1;
    send(capture, applier, 4);
    expect(secondary.held.at(-1)).toEqual(new Set([0]));
    // The mode is in both entries (the machine's and its device's).
    primary.device.mode = 4;
    send(capture, applier, 5);
    expect(secondary.held.at(-1)).toEqual(new Set());
    send(capture, applier, 6);
    expect(secondary.held.at(-1)).toEqual(new Set([0, 1]));
    // A secondary that ran (compare mode) loads everything.
    applier.keepShadow();
    const next = capture.capture(7);
    expect(applier.stage(next.payload, next.bytes, 7)).toBe('ok');
    applier.apply(true);
    expect(secondary.held.at(-1)).toBeUndefined();
    expectSame(primary, secondary);
  });

  it("does not send a small delta in the full copy's big buffer", () => {
    const { primary, capture, applier } = pair();
    primary.ram().fill(1);
    const full = send(capture, applier, 1);
    expect(full.delta.payload.byteLength).toBeGreaterThan(1024 * 1024);
    primary.ram()[5] = 2;
    const small = send(capture, applier, 2);
    expect(small.delta.payload.byteLength).toBeLessThan(full.delta.payload.byteLength / 4);
    primary.ram()[5] = 3;
    send(capture, applier, 3);
    // The big buffer was dropped; the small one is reused from then on.
    expect(capture.allocations).toBe(2);
  });

  it('refuses corrupt, truncated, foreign and out-of-order deltas without touching the VM', () => {
    const { primary, secondary, capture, applier } = pair();
    send(capture, applier, 1);
    const before = Buffer.from(secondary.ram());
    primary.ram()[3 * PAGE_BYTES + 9] = 0x42;

    const corrupt = send(capture, applier, 2, (bytes) => bytes.set([(bytes.at(-1) ?? 0) ^ 1], bytes.length - 1));
    expect(corrupt.verdict).toEqual({ error: expect.stringMatching(/^checksum mismatch/) });
    const version = capture.capture(3);
    new DataView(version.payload).setUint32(4, DELTA_VERSION + 1, true);
    expect(applier.stage(version.payload, version.bytes, 3)).toEqual({
      error: `delta format version ${DELTA_VERSION + 1}, this build reads version ${DELTA_VERSION}`,
    });
    const truncated = capture.capture(4);
    expect(applier.stage(truncated.payload.slice(0, truncated.bytes - 10), truncated.bytes, 4)).toEqual({
      error: `truncated: ${truncated.bytes - 10} bytes arrived, vmstate-size announced ${truncated.bytes}`,
    });
    expect(applier.stage(truncated.payload, truncated.bytes + 4, 4)).toEqual({
      error: `delta header says ${truncated.bytes} bytes, vmstate-size announced ${truncated.bytes + 4}`,
    });
    // Its base (checkpoint 3) is not what the secondary holds (1).
    expect(applier.stage(truncated.payload, truncated.bytes, 4)).toEqual({ error: 'delta applies on checkpoint 3, this secondary holds checkpoint 1' });
    // A delta replayed as a later checkpoint says which one it is.
    expect(applier.stage(truncated.payload, truncated.bytes, 6)).toEqual({ error: 'a delta of checkpoint 4 arrived as checkpoint 6' });
    expect(applier.stage(new ArrayBuffer(8), 8, 4)).toEqual({ error: `truncated: 8 bytes arrived, less than the ${DELTA_HEADER_BYTES}-byte delta header` });
    expect(() => applier.apply()).toThrow('nothing staged');
    expect(Buffer.from(secondary.ram()).equals(before)).toBe(true);
    expect(applier.holds).toBe(1);
  });

  it('hands the VM each device array in an ArrayBuffer of its own, as v86 does (its IDE views all of data.buffer), never the mirror', () => {
    const { primary, secondary, capture, applier } = pair();
    send(capture, applier, 1);
    primary.device.registers[1] = 77;
    send(capture, applier, 2);
    const [first, second] = secondary.loaded as [[number, [number, Int32Array, Uint8Array]], [number, [number, Int32Array, Uint8Array]]];
    for (const array of [first[1][1], first[1][2], second[1][1], second[1][2]]) {
      expect(array.byteOffset).toBe(0);
      expect(array.buffer.byteLength).toBe(array.byteLength);
    }
    // A device that kept its array and wrote into it (it ran) leaves the next load unaffected.
    first[1][2].fill(0x99);
    second[1][2].fill(0x99);
    primary.device.registers[1] = 78;
    send(capture, applier, 3);
    expectSame(primary, secondary);
  });

  it('when the VM refuses the device state, RAM and devices go back to the checkpoint it held', () => {
    const { primary, secondary, capture, applier } = pair();
    send(capture, applier, 1);
    const ramBefore = Buffer.from(secondary.ram());
    const registersBefore = secondary.device.registers.slice();
    primary.ram()[20 * PAGE_BYTES + 1] = 0x99;
    primary.device.registers[0] = 1000;
    const delta = capture.capture(2);
    expect(applier.stage(delta.payload, delta.bytes, 2)).toBe('ok');
    secondary.failNextWrite = true;
    expect(() => applier.apply()).toThrow('v86 refused the device state of checkpoint 2 (device refused); the VM still holds checkpoint 1');
    expect(Buffer.from(secondary.ram()).equals(ramBefore)).toBe(true);
    expect(secondary.device.registers).toEqual(registersBefore);
    expect(applier.holds).toBe(1);
  });

  it('with write tracking: scans all of RAM once, then compares only marked pages, re-arming at each capture', () => {
    const { primary, secondary, tracker, capture, applier } = trackedPair();
    const first = send(capture, applier, 1);
    expect(first.delta).toMatchObject({ ramPages: 40, tracking: 'scan' });
    expect(tracker.rearms).toBe(1);
    tracker.write(100 * PAGE_BYTES + 5, 9);
    tracker.write(7 * PAGE_BYTES, 0);
    // Marked but written back unchanged: compared, not sent.
    tracker.write(3 * PAGE_BYTES + 3, primary.ram()[3 * PAGE_BYTES + 3] ?? 0);
    const second = send(capture, applier, 2);
    expect(second.delta).toMatchObject({ ramPages: 2, tracking: 'write' });
    expect(tracker.rearms).toBe(2);
    expectSame(primary, secondary);
    // The marks were consumed: nothing new, nothing sent.
    expect(send(capture, applier, 3).delta).toMatchObject({ ramPages: 0, tracking: 'write' });
  });

  it('a write the tracking did not see: verify mode names the page; a restore behind its back brings one scan', () => {
    const { tracker, capture, applier } = trackedPair();
    send(capture, applier, 1);
    tracker.write(9 * PAGE_BYTES + 1, 0x77, false);
    tracker.write(20 * PAGE_BYTES, 0x78);
    expect(() => capture.capture(2, { writeTracking: true, verify: true })).toThrow(
      new MissedWritesError('write tracking missed 1 changed RAM page(s): 9 (0x9000)'),
    );

    const again = trackedPair();
    send(again.capture, again.applier, 1);
    again.tracker.write(12 * PAGE_BYTES, 0x55, false);
    again.tracker.untrackedWrites++;
    expect(send(again.capture, again.applier, 2).delta).toMatchObject({ ramPages: 1, tracking: 'scan' });
    expectSame(again.primary, again.secondary);
  });

  it('compare mode: the pages the running secondary marked go back to the checkpoint, the rest are not compared', () => {
    const { primary, capture } = trackedPair();
    const secondary = new FakeMachine();
    const written = new HandTracker(secondary);
    secondary.writes = written;
    const applier = new DeltaApplier(secondary);
    send(capture, applier, 1);
    applier.keepShadow();
    // The secondary runs: its own writes, marked.
    written.write(30 * PAGE_BYTES + 8, 0x31);
    written.write(31 * PAGE_BYTES, 0x32);
    primary.ram()[5 * PAGE_BYTES] = 0x33;
    new Uint8Array(primary.memory.buffer)[(primary.writes as HandTracker).map + 5] = 1;
    const delta = capture.capture(2);
    expect(applier.stage(delta.payload, delta.bytes, 2)).toBe('ok');
    applier.apply(true, true);
    expect(applier.lastRevert).toEqual({ tracking: 'write', pages: 2, diskPages: 0 });
    expectSame(primary, secondary);

    // A write the marks missed: verify mode names it (and puts it back); without it, it would stay.
    applier.keepShadow();
    written.write(40 * PAGE_BYTES + 1, 0x34, false);
    const next = capture.capture(3);
    expect(applier.stage(next.payload, next.bytes, 3)).toBe('ok');
    expect(() => applier.apply(true, true)).toThrow(new MissedWritesError('write tracking missed 1 changed RAM page(s): 40 (0x28000)'));
    expect(applier.holds).toBe(2);
    expect(secondary.ram()[40 * PAGE_BYTES + 1]).toBe(0);
  });

  it('on a shared base: checkpoint 1 carries only the RAM pages that differ from the snapshot both were built from', () => {
    const { primary, secondary, tracker, capture, applier } = trackedPair();
    // Both built from the same snapshot; the secondary waits, the primary runs on.
    secondary.ram().set(primary.ram());
    primary.device.registers.set([5, 6]);
    const ram = capture.adoptBase();
    // The secondary names its RAM without a copy of it, the same way.
    expect(applier.adoptBase()).toBe(ram);
    expect(capture.heldBase).toBe(ram);
    tracker.write(100 * PAGE_BYTES + 5, 9);
    tracker.write(7 * PAGE_BYTES, 0);
    // The disk too: both hold the snapshot's, and only what the primary wrote since differs.
    primary.writeDisk(5 * PAGE_BYTES + 2, [1, 2, 3]);
    expect(capture.reset(true)).toBe(true);
    const first = send(capture, applier, 1);
    expect(first.verdict).toBe('ok');
    expect(first.delta).toMatchObject({ base: 0, ramPages: 2, devicePages: 1, diskPages: 1, diskWhole: false, tracking: 'write' });
    expectSame(primary, secondary);
    // Neither side holds the snapshot any more: a later pair gets a full copy.
    expect(capture.heldBase).toBeUndefined();
    expect(applier.heldBase).toBeUndefined();
    expect(capture.reset(true)).toBe(false);
    const again = new DeltaApplier(new FakeMachine());
    expect(send(capture, again, 1).delta).toMatchObject({ ramPages: 40 });
  });

  it('a primary that ran on from the snapshot gives a secondary on it the pages whose digest changed, and the secondary checks all of RAM', () => {
    const { primary, secondary, tracker, capture, applier } = trackedPair();
    const snapshot = Buffer.from(primary.ram());
    secondary.ram().set(snapshot);
    const ram = applier.adoptBase();
    const digests = digestsOf(primary, capture.adoptBase());
    expect(digests.ram).toBe(ram);
    // It led a pair since (its copy of the snapshot turned into checkpoints), partly with writes the marks did not see.
    capture.reset(false);
    send(capture, new DeltaApplier(new FakeMachine()), 1);
    tracker.write(100 * PAGE_BYTES + 5, 9);
    primary.ram()[3 * PAGE_BYTES] = 0x77;
    tracker.wroteBehind();
    expect(capture.heldBase).toBeUndefined();
    capture.resetOnDigests(digests);
    const first = send(capture, applier, 1);
    expect(first.verdict).toBe('ok');
    expect(first.delta).toMatchObject({ base: 0, ramPages: 2, tracking: 'scan' });
    expectSame(primary, secondary);
    // From there on, the marks again: the primary's copy holds what the secondary does.
    tracker.write(7 * PAGE_BYTES, 0);
    const next = send(capture, applier, 2);
    expect(next.delta).toMatchObject({ base: 1, ramPages: 1, tracking: 'write' });
    expectSame(primary, secondary);
  });

  it('a page the digests could not tell apart is caught by the RAM check: the secondary refuses and holds the snapshot still', () => {
    const { primary, secondary, capture, applier } = pair();
    const snapshot = Buffer.from(primary.ram());
    secondary.ram().set(snapshot);
    const ram = applier.adoptBase();
    // Digests that miss a change, as two pages with the same digest would: taken after page 3 changed, named as the snapshot's.
    primary.ram()[3 * PAGE_BYTES] = 0x77;
    primary.ram()[90 * PAGE_BYTES] = 0x78;
    const blind = digestsOf(primary, ram);
    primary.ram()[90 * PAGE_BYTES] = 0x79;
    capture.resetOnDigests(blind);
    const delta = capture.capture(1);
    expect(delta.ramPages).toBe(1);
    expect(applier.stage(delta.payload, delta.bytes, 1)).toBe('ok');
    expect(() => applier.apply()).toThrow(
      /^checkpoint 1 does not give the primary's RAM \(checksum \w{8}, the primary's \w{8}\): not loaded, the VM holds the booted snapshot$/,
    );
    expect(Buffer.from(secondary.ram()).equals(snapshot)).toBe(true);
    expect(applier.heldBase).toBe(ram);
    expect(applier.holds).toBe(0);
    // Without the check the same delta loads, and the secondary holds RAM the primary never had.
    const header = new DataView(delta.payload);
    header.setUint32(64, 0, true);
    reseal(delta.payload, delta.bytes);
    expect(applier.stage(delta.payload, delta.bytes, 1)).toBe('ok');
    applier.apply();
    expect(Buffer.from(secondary.ram()).equals(Buffer.from(primary.ram()))).toBe(false);
  });

  it('a worker that stood by on the snapshot and then leads builds checkpoint 1 on it, from the digests it took when it was built', async () => {
    const image = 'a'.repeat(64);
    const [led, spare] = [new FakeMachine(), new FakeMachine()];
    for (const fake of [led, spare]) for (let page = 0; page < 40; page++) fake.ram()[page * PAGE_BYTES + 1] = page + 1;
    const worker = (fake: FakeMachine) => ({
      stateAccess: () => fake,
      run: async () => {},
      stop: async () => {},
      saveState: async () => new ArrayBuffer(0),
      restoreState: async () => {},
      clientInputConsumed: () => 0,
      replayClientInput: () => true,
      onSerialOutput: () => () => {},
    });
    const survivor = machineStatePaths(worker(led), RAM_BYTES);
    survivor.adoptBase?.(image, true);
    const standing = machineStatePaths(worker(spare), RAM_BYTES);
    standing.adoptBase?.(image, true);
    // The survivor took over and ran on.
    led.ram()[5 * PAGE_BYTES] = 0x55;
    const sink = standing.sink(false);
    const source = survivor.source('strict', { writeTracking: true, verify: false });
    expect(source.initialSync(sink.base)).toMatchObject({ method: 'shared-base', detail: expect.stringMatching(/pages whose digest changed travel/) });
    const first = await source.capture(1);
    expect(first.pages).toMatchObject({ ram: 1 });
    expect(sink.stage({ ...first.header, inputAt: 0 }, first.payload, 1)).toBe('ok');
    await sink.load(false);
    expect(Buffer.from(spare.ram()).equals(Buffer.from(led.ram()))).toBe(true);
  });

  it('a primary not built from a booted snapshot gives its new secondary a full copy, and says why', () => {
    const { capture } = pair();
    const source = new DeltaSource(capture, { writeTracking: true, verify: false });
    expect(source.initialSync({ image: 'a'.repeat(64), ram: 1 })).toEqual({
      method: 'full',
      detail: 'a full copy: this primary was not built from a booted snapshot',
    });
  });

  it('a delta on a shared base the secondary does not hold is refused before it touches the VM', () => {
    const { primary, secondary, capture, applier } = pair();
    const ram = capture.adoptBase();
    primary.ram()[5] = 1;
    capture.reset(true);
    const delta = capture.capture(1);
    const hex = (checksum: number) => checksum.toString(16).padStart(8, '0');
    const before = Buffer.from(secondary.ram());
    expect(applier.stage(delta.payload, delta.bytes, 1)).toEqual({
      error: `delta applies on the shared base ${hex(ram)}, this secondary holds no shared base`,
    });
    // Built from another snapshot: its RAM (the fixture's junk) names another base.
    const held = applier.adoptBase();
    expect(held).not.toBe(ram);
    expect(applier.stage(delta.payload, delta.bytes, 1)).toEqual({
      error: `delta applies on the shared base ${hex(ram)}, this secondary holds the shared base ${hex(held)}`,
    });
    expect(Buffer.from(secondary.ram()).equals(before)).toBe(true);
  });

  it('the pair settles on the shared base only when both name the same snapshot and RAM, and says why not', () => {
    const { capture, applier, primary, secondary } = pair();
    const image = 'a'.repeat(64);
    const ram = capture.adoptBase();
    secondary.ram().set(primary.ram());
    expect(applier.adoptBase()).toBe(ram);
    const peer = new DeltaSink(applier, false, image).base;
    expect(peer).toEqual({ image, ram });
    const options = { writeTracking: true, verify: false };
    expect(new DeltaSource(capture, options, image).initialSync(undefined)).toEqual({
      method: 'full',
      detail: 'a full copy: the secondary holds no untouched booted snapshot',
    });
    capture.adoptBase();
    expect(new DeltaSource(capture, options, 'b'.repeat(64)).initialSync(peer)).toMatchObject({
      method: 'full',
      detail: expect.stringMatching(/built from different snapshots/),
    });
    capture.adoptBase();
    expect(new DeltaSource(capture, options, image).initialSync({ image, ram: ram ^ 1 })).toMatchObject({
      method: 'full',
      detail: expect.stringMatching(/restored to different RAM/),
    });
    capture.adoptBase();
    expect(new DeltaSource(capture, options, image).initialSync(peer)).toMatchObject({ method: 'shared-base' });
    // A source made mid-pair (a mode switch) never builds on the base: its first capture is whole.
    primary.ram()[3] = 7;
    capture.adoptBase();
    const midPair = new DeltaSource(capture, options, image);
    return midPair.capture(1).then((first) => expect(first.pages).toEqual({ ram: 40, device: 1, disk: 0, diskWhole: true }));
  });

  it('marks kept since the base are not trusted once RAM was loaded behind them or another map took the marking', () => {
    const { primary, tracker, capture } = trackedPair();
    capture.adoptBase();
    tracker.write(9 * PAGE_BYTES, 1);
    // The same worker, as a secondary, loads a checkpoint straight into RAM.
    primary.ram()[30 * PAGE_BYTES] = 0x31;
    tracker.wroteBehind();
    capture.reset(true);
    expect(capture.capture(1)).toMatchObject({ ramPages: 2, tracking: 'scan' });

    const other = trackedPair();
    other.capture.adoptBase();
    // A compare-mode secondary's marks take over the tracking while it runs.
    const elsewhere = other.tracker.map + 4096;
    other.tracker.attach(elsewhere);
    other.tracker.write(11 * PAGE_BYTES, 1);
    other.capture.reset(true);
    expect(other.capture.capture(1)).toMatchObject({ ramPages: 1, tracking: 'scan' });
  });

  it('device state survives flatten and rebuild, typed arrays by type', () => {
    const device = new FakeDevice();
    device.registers.set([5, -6]);
    const flat = new DeviceStateReader().read(device);
    const json = JSON.parse(JSON.stringify(flat.tree)) as unknown;
    const bytes = flat.buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice());
    const rebuilt = rebuildDevices(json, (id) => bytes[id] as Uint8Array) as [number, Int32Array, Uint8Array, Map<string, number>];
    expect(rebuilt[1]).toBeInstanceOf(Int32Array);
    expect([...rebuilt[1].subarray(0, 2)]).toEqual([5, -6]);
    expect(rebuilt[3].get('a')).toBe(1);
    expect(() => rebuildDevices([{ __state_type__: 'Function', buffer_id: 0 }], () => new Uint8Array(4))).toThrow(/unknown node/);
    let deep: unknown = 0;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => rebuildDevices(deep, () => new Uint8Array(4))).toThrow('device state: nested deeper than 64 levels');
  });

  it("reads v86's proxied views of WebAssembly memory again once the memory grew", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    // As v86's view(): every property read builds a fresh array on the current buffer.
    const proxied = new Proxy(
      {},
      {
        get(_, property) {
          const array = new Int32Array(memory.buffer, 64, 4);
          const value = Reflect.get(array, property) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(array) : value;
        },
      },
    );
    const reader = new DeviceStateReader();
    const root = { get_state: () => [proxied] };
    new Int32Array(memory.buffer, 64, 4).set([1, 2, 3, 4]);
    expect([...(reader.read(root).buffers[0] as Int32Array)]).toEqual([1, 2, 3, 4]);
    memory.grow(1);
    new Int32Array(memory.buffer, 64, 4)[0] = 9;
    const after = reader.read(root).buffers[0] as Int32Array;
    expect(after.buffer).toBe(memory.buffer);
    expect([...after]).toEqual([9, 2, 3, 4]);
  });

  it('leaves out the arrays it is told are caches, as null in the skeleton', () => {
    const device = new FakeDevice();
    const flat = new DeviceStateReader(new Set([device.registers])).read(device);
    expect((flat.tree as unknown[])[1]).toBeNull();
    expect(flat.buffers.map((b) => b.byteLength)).toEqual([device.screen.byteLength]);
  });
});

describe('the disk part of a delta', () => {
  it("the first carries every non-zero disk page, the next only the pages the guest wrote; the secondary's disk ends equal", () => {
    const { primary, secondary, capture, applier } = pair();
    primary.writeDisk(0, [7]);
    primary.writeDisk(9 * PAGE_BYTES + 100, [8, 9]);
    // Junk on the standby's disk does not survive the first checkpoint.
    secondary.diskBytes().fill(0);
    secondary.writeDisk(3 * PAGE_BYTES, [0xee]);
    const first = send(capture, applier, 1);
    expect(first.delta).toMatchObject({ diskPages: 2, diskWhole: true });
    expectSame(primary, secondary);

    // A write across a page boundary marks both pages; a page written twice travels once; one written with zeros still travels.
    primary.writeDisk(2 * PAGE_BYTES - 2, [1, 2, 3, 4]);
    primary.writeDisk(2 * PAGE_BYTES + 10, [5]);
    primary.writeDisk(9 * PAGE_BYTES + 100, [0, 0]);
    const second = send(capture, applier, 2);
    expect(second.delta).toMatchObject({ diskPages: 3, diskWhole: false });
    const header = checkDelta(second.delta.payload, { announced: second.delta.bytes, ramBytes: RAM_BYTES, diskBytes: DISK_BYTES, holds: 1, checkpoint: 2 });
    if ('error' in header) throw new Error(header.error);
    const layout = deltaLayout(header);
    const first_ = header.ramPages + header.devicePages;
    expect([...new Uint32Array(second.delta.payload, layout.listsOffset + 4 * first_, header.diskPages)]).toEqual([1, 2, 9]);
    expectSame(primary, secondary);
    // Nothing written, nothing sent; RAM and devices are unaffected by the disk part.
    expect(send(capture, applier, 3).delta).toMatchObject({ diskPages: 0 });
    expectSame(primary, secondary);
  });

  it('the disk is left out of the device state, and a load of a device state without it leaves the disk alone', () => {
    const machine = new FakeMachine();
    const opened = openV86Disk({ devices: { ide: { primary: { master: { buffer: machine.sync } } } } }, DISK_BYTES);
    machine.writeDisk(0, [5]);
    const flat = new DeviceStateReader(new Set([opened?.stateObject ?? {}])).read({ get_state: () => [1, machine.sync] });
    expect(flat.tree).toEqual([1, null]);
    expect(flat.buffers).toEqual([]);
    const before = machine.sync.buffer;
    machine.sync.set_state(null as unknown as [number, Uint8Array]);
    expect(machine.sync.buffer).toBe(before);
    // A full state (v86's own restore_state) still replaces it, and the wrapper reads the new contents.
    const whole = new Uint8Array(DISK_BYTES).fill(3);
    machine.sync.set_state([DISK_BYTES, whole]);
    expect(machine.disk.contents()[0]).toBe(3);
    // A disk whose size is not whole pages, or that is not the size the VM was built with, is not taken.
    expect(openV86Disk({ devices: { ide: { primary: { master: { buffer: new SyncBuffer(1000) } } } } }, 1000)).toBeUndefined();
    expect(openV86Disk({ devices: { ide: { primary: { master: { buffer: new SyncBuffer(DISK_BYTES) } } } } }, 2 * DISK_BYTES)).toBeUndefined();
  });

  // Every state access opens the disk (each source, sink and base rebuild
  // asks for one): it was wrapped again each time, so one guest write was
  // marked by every wrapper, each keeping a whole copy of the disk.
  it('the disk is wrapped once, however often it is opened: a write is marked once', () => {
    const sync = new SyncBuffer(DISK_BYTES);
    const cpu = { devices: { ide: { primary: { master: { buffer: sync } } } } };
    const first = openV86Disk(cpu, DISK_BYTES);
    const wrapped = sync.set;
    const again = Array.from({ length: 20 }, () => openV86Disk(cpu, DISK_BYTES));
    expect(sync.set).toBe(wrapped);
    expect(again.every((opened) => opened === first)).toBe(true);
    sync.set(PAGE_BYTES, new Uint8Array([1, 2, 3]), () => {});
    expect(first?.disk.takeWritten()).toEqual([1]);
    expect(again[19]?.disk.takeWritten()).toEqual([]);
    // A disk of another size is still refused, wrapped or not.
    expect(openV86Disk(cpu, 2 * DISK_BYTES)).toBeUndefined();
  });

  it('a disk part naming a page past the disk, or cut short, is refused by name; the secondary keeps its last checkpoint, disk and all', () => {
    const { primary, secondary, capture, applier } = pair();
    primary.writeDisk(PAGE_BYTES, [1]);
    send(capture, applier, 1);
    const diskBefore = secondary.diskBytes();
    const ramBefore = Buffer.from(secondary.ram());
    primary.writeDisk(4 * PAGE_BYTES, [2]);
    primary.ram()[2 * PAGE_BYTES] = 0x42;

    const past = capture.capture(2);
    const header = checkDelta(past.payload, { announced: past.bytes, ramBytes: RAM_BYTES, diskBytes: DISK_BYTES, holds: 1, checkpoint: 2 });
    if ('error' in header) throw new Error(header.error);
    const diskListAt = deltaLayout(header).listsOffset + 4 * (header.ramPages + header.devicePages);
    new DataView(past.payload).setUint32(diskListAt, DISK_BYTES / PAGE_BYTES, true);
    reseal(past.payload, past.bytes);
    expect(applier.stage(past.payload, past.bytes, 2)).toEqual({ error: `disk page list names page 16, past the end of the disk (16 pages)` });
    // More disk pages than the disk has.
    new DataView(past.payload).setUint32(56, 17, true);
    reseal(past.payload, past.bytes);
    expect(applier.stage(past.payload, past.bytes, 2)).toEqual({ error: 'delta lists 17 disk pages, the disk has 16' });
    // A disk of another size.
    const foreign = new DeltaApplier(Object.assign(new FakeMachine(), { disk: undefined }));
    expect(foreign.stage(past.payload, past.bytes, 2)).toEqual({ error: `delta of a VM with a disk of ${DISK_BYTES} bytes, this VM's disk has 0` });

    // Cut short in its last (disk) page: the pages the header counts did not all arrive.
    primary.writeDisk(5 * PAGE_BYTES, [3]);
    const cut = capture.capture(3);
    expect(cut.diskPages).toBe(1);
    expect(applier.stage(cut.payload.slice(0, cut.bytes - 100), cut.bytes, 3)).toEqual({
      error: `truncated: ${cut.bytes - 100} bytes arrived, vmstate-size announced ${cut.bytes}`,
    });
    expect(secondary.diskBytes().equals(diskBefore)).toBe(true);
    expect(Buffer.from(secondary.ram()).equals(ramBefore)).toBe(true);
    expect(applier.holds).toBe(1);
  });

  it('when the VM refuses the device state, the disk pages go back with RAM', () => {
    const { primary, secondary, capture, applier } = pair();
    primary.writeDisk(PAGE_BYTES, [1]);
    send(capture, applier, 1);
    const diskBefore = secondary.diskBytes();
    primary.writeDisk(PAGE_BYTES, [9]);
    primary.writeDisk(6 * PAGE_BYTES, [9]);
    const delta = capture.capture(2);
    expect(applier.stage(delta.payload, delta.bytes, 2)).toBe('ok');
    secondary.failNextWrite = true;
    expect(() => applier.apply()).toThrow(/the VM still holds checkpoint 1/);
    expect(secondary.diskBytes().equals(diskBefore)).toBe(true);
  });

  it('compare mode: the disk pages the running secondary wrote are put back before the checkpoint applies', () => {
    const { primary, secondary, capture, applier } = pair();
    primary.writeDisk(PAGE_BYTES, [1]);
    send(capture, applier, 1);
    applier.keepShadow();
    // The secondary runs: it journals a reply of its own (a diverging request) on a page the primary does not write.
    secondary.writeDisk(3 * PAGE_BYTES, [0x51, 0x52]);
    secondary.writeDisk(PAGE_BYTES + 1, [0x53]);
    primary.writeDisk(2 * PAGE_BYTES, [4]);
    const delta = capture.capture(2);
    expect(applier.stage(delta.payload, delta.bytes, 2)).toBe('ok');
    applier.apply(true);
    expect(applier.lastRevert).toMatchObject({ diskPages: 2 });
    expectSame(primary, secondary);
    expect(secondary.diskBytes()[3 * PAGE_BYTES]).toBe(0);
  });

  it('a capture that failed leaves the next one to send the whole disk', () => {
    const { primary, secondary, tracker, capture, applier } = trackedPair();
    primary.writeDisk(PAGE_BYTES, [1]);
    send(capture, applier, 1);
    primary.writeDisk(7 * PAGE_BYTES, [2]);
    tracker.write(9 * PAGE_BYTES + 1, 0x77, false);
    expect(() => capture.capture(2, { writeTracking: true, verify: true })).toThrow(MissedWritesError);
    // The failed capture took the disk's marks; what comes next is a new start, as after a failed checkpoint.
    capture.reset();
    const next = send(capture, new DeltaApplier(secondary), 1);
    expect(next.delta).toMatchObject({ diskWhole: true, diskPages: 2 });
    expectSame(primary, secondary);
  });

  it('a delta from nothing must carry the whole disk; a whole disk loaded behind the marks makes the next part whole', () => {
    const { primary, capture, applier } = pair();
    primary.writeDisk(PAGE_BYTES, [1]);
    const first = capture.capture(1);
    new DataView(first.payload).setUint32(60, 0, true);
    reseal(first.payload, first.bytes);
    expect(applier.stage(first.payload, first.bytes, 1)).toEqual({ error: 'a delta from nothing that does not carry the whole disk' });

    const { secondary, capture: again, applier: fresh } = pair();
    send(again, fresh, 1);
    // A full state (v86's restore_state) replaced the primary's disk: its marks never saw it.
    const loaded = new Uint8Array(DISK_BYTES).fill(4, 0, 3 * PAGE_BYTES);
    const primary2 = (again as unknown as { access: FakeMachine }).access;
    primary2.sync.set_state([DISK_BYTES, loaded]);
    expect(send(again, fresh, 2).delta).toMatchObject({ diskWhole: true, diskPages: 3 });
    expect(secondary.diskBytes().equals(primary2.diskBytes())).toBe(true);
  });

  it('what a running secondary wrote before it was given a new first checkpoint is not put back later', () => {
    const { primary, secondary, capture, applier } = pair();
    send(capture, applier, 1);
    applier.keepShadow();
    secondary.writeDisk(3 * PAGE_BYTES, [0x51]);
    // A new start (a mode switch): the next delta builds on nothing; the VM did not run since it was told.
    applier.reset();
    capture.reset();
    primary.writeDisk(3 * PAGE_BYTES, [0x77]);
    send(capture, applier, 1);
    applier.keepShadow();
    primary.writeDisk(5 * PAGE_BYTES, [1]);
    const next = capture.capture(2);
    expect(applier.stage(next.payload, next.bytes, 2)).toBe('ok');
    applier.apply(true);
    expect(applier.lastRevert).toMatchObject({ diskPages: 0 });
    expectSame(primary, secondary);
  });
});
