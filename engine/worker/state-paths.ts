// Picks each side's state path for a checkpoint mode. The delta path's
// buffers (shadow RAM, staging) live as long as the worker, whatever roles it
// plays, so re-protection after re-protection allocates them once.
import { DeltaApplier } from '../checkpoint/delta-apply.ts';
import { DeltaCapture } from '../checkpoint/delta-capture.ts';
import { DeltaSink, DeltaSource } from '../checkpoint/delta-path.ts';
import { FullStateSink, FullStateSource, type StatePaths } from '../replication/state-path.ts';
import type { GuestMachine } from '../vm/machine.ts';

export function machineStatePaths(machine: GuestMachine, memoryBytes: number): StatePaths {
  let capture: DeltaCapture | undefined;
  let applier: DeltaApplier | undefined;
  return {
    source(mode) {
      if (mode === 'naive') return new FullStateSource(machine);
      const access = machine.stateAccess();
      if ('unavailable' in access) return new FullStateSource(machine, `delta path unavailable, sending full states: ${access.unavailable}`);
      capture ??= new DeltaCapture(access);
      return new DeltaSource(capture);
    },
    sink(mode) {
      if (mode === 'naive') return new FullStateSink(machine, memoryBytes);
      const access = machine.stateAccess();
      // The primary falls back the same way, so both sides speak full states.
      if ('unavailable' in access) return new FullStateSink(machine, memoryBytes);
      applier ??= new DeltaApplier(access);
      return new DeltaSink(applier);
    },
  };
}
