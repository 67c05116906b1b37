import { describe, expect, it } from 'vitest';
import { checkStateFits, readStateSummary, StateError, V86_STATE_MAGIC } from '../../engine/vm/state-header.ts';

function fakeState(options: { magic?: number; version?: number; memory?: number; info?: string; lengthDelta?: number } = {}): ArrayBuffer {
  const info = new TextEncoder().encode(options.info ?? JSON.stringify({ state: [options.memory ?? 80 * 1024 * 1024], buffer_infos: [] }));
  const total = 16 + ((info.length + 3) & ~3) + 8;
  const buffer = new ArrayBuffer(total);
  const view = new DataView(buffer);
  view.setUint32(0, options.magic ?? V86_STATE_MAGIC, true);
  view.setInt32(4, options.version ?? 6, true);
  view.setInt32(8, total + (options.lengthDelta ?? 0), true);
  view.setInt32(12, info.length, true);
  new Uint8Array(buffer, 16).set(info);
  return buffer;
}

describe('readStateSummary', () => {
  it('reads version, length and memory size of a well-formed state', () => {
    const state = fakeState({ memory: 64 * 1024 * 1024 });
    expect(readStateSummary(state)).toEqual({ formatVersion: 6, totalBytes: state.byteLength, memoryBytes: 64 * 1024 * 1024 });
  });

  it.each([
    ['a buffer shorter than the header', new ArrayBuffer(10), /truncated, 10 bytes/],
    ['a wrong magic number', fakeState({ magic: 0x12345678 }), /not a v86 state \(magic 0x12345678/],
    ['another v86 state format', fakeState({ version: 5 }), /format version 5.*different v86 version/],
    ['a length that disagrees with the header', fakeState({ lengthDelta: 4 }), /header says \d+ bytes, got \d+/],
    ['an info block that is not JSON', fakeState({ info: '{"state":[' }), /corrupt info block/],
    ['an info block without a memory size', fakeState({ info: '{"state":["x"]}' }), /no CPU memory size/],
  ])('refuses %s', (_label, state, message) => {
    expect(() => readStateSummary(state)).toThrow(StateError);
    expect(() => readStateSummary(state)).toThrow(message);
  });

  it('refuses a truncated copy of a state', () => {
    const state = fakeState();
    expect(() => readStateSummary(state.slice(0, state.byteLength - 1))).toThrow(/truncated or padded/);
  });
});

describe('checkStateFits', () => {
  it('names both memory sizes when they differ', () => {
    const summary = readStateSummary(fakeState({ memory: 64 * 1024 * 1024 }));
    expect(() => checkStateFits(summary, 80 * 1024 * 1024)).toThrow('saved from a VM with 64 MiB of memory, this VM has 80 MiB');
    expect(() => checkStateFits(summary, 64 * 1024 * 1024)).not.toThrow();
  });
});
