// v86 (0.5.462, and its master as of this writing) loads the guest's TSC
// wrongly. cpu.set_state (every restore_state, and every checkpoint the delta
// path loads) calls set_tsc(saved), which sets
//   tsc_offset = read_tsc() - saved
// but read_tsc() is already `now - tsc_offset`: the TSC then reads saved plus
// the offset it had before, and the offset's sign flips at every load. A
// secondary that loaded checkpoints resumes with its TSC off by tens of
// seconds, ahead or behind depending on how many it loaded. The guest's clock
// runs on the TSC (tsc=reliable): behind, its clock stands still until the TSC
// passes the last value the kernel read, and every sleep waits that long (the
// shell on ttyS0 hung in nanosleep after a failover, echoing nothing, for as
// long as the TSC was behind); ahead, the guest's time leaps.
//
// set_tsc(read_tsc()) makes the offset 0 (the TSC then reads v86's raw clock,
// while the VM is stopped): from there set_state's set_tsc(saved) is exact.
// Installed once per CPU, in front of its set_state.

interface TscInternals {
  set_state?: unknown;
  set_tsc?: unknown;
  store_current_tsc?: unknown;
  current_tsc?: ArrayLike<number>;
}

const exact = new WeakSet<object>();

/** Makes every later state load set the TSC to the saved value; why not, if this v86 lacks what it needs. */
export function keepTscExact(emulator: unknown): string | undefined {
  const cpu = (emulator as { v86?: { cpu?: TscInternals } }).v86?.cpu;
  if (!cpu) return 'v86 has no v86.cpu';
  if (exact.has(cpu)) return undefined;
  const { set_state: setState, set_tsc: setTsc, store_current_tsc: storeTsc, current_tsc: current } = cpu;
  if (typeof setState !== 'function' || typeof setTsc !== 'function' || typeof storeTsc !== 'function' || current?.length !== 2) {
    return 'v86 cpu lacks set_state, set_tsc, store_current_tsc or current_tsc';
  }
  cpu.set_state = function (this: unknown, ...args: unknown[]) {
    (storeTsc as () => void).call(cpu);
    (setTsc as (low: number, high: number) => void).call(cpu, current[0] as number, current[1] as number);
    return (setState as (...a: unknown[]) => unknown).apply(this, args);
  };
  exact.add(cpu);
  return undefined;
}
