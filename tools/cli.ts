// The benchmarks' and soaks' command-line options (`--name value`), and how a run that missed its deadline is told apart.

/** The value after `name` on the command line, if it is there. */
export function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

/** A number after `name`, or `fallback` without one. */
export function numberOption(name: string, fallback: number): number {
  const value = option(name);
  return value === undefined ? fallback : Number(value);
}

/** A benchmark's run (or step) missed its deadline: reported with what it reached, and the bench goes on or ends saying so. */
export class Stalled extends Error {}

/** `work`, or Stalled naming `what` once `ms` pass without its result (and, with `reached`, what it had reached then). */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string, reached?: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Stalled(`${what}: no result within ${ms / 1000} s${reached ? `; ${reached()}` : ''}`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
