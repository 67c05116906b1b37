// The lanes `npm test` runs side by side (tools/run-tests.ts): commands whose
// output lines are marked, run at the lowest priority while the real VMs run
// and at the normal one once they are done.
import { spawn } from 'node:child_process';

export interface Step {
  /** Marks each of its output lines. */
  label: string;
  command: string;
  args: string[];
}

interface Running {
  exited: Promise<number>;
  end(): void;
}

/** Every step running now, so that `npm test` ending, or interrupted, ends them too (each runs in a process group of its own). */
const running = new Set<Running>();
process.once('exit', () => {
  for (const step of running) step.end();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));

function start(step: Step, niced: boolean): Running {
  const [command, args] = niced ? ['nice', ['-n', '19', step.command, ...step.args]] : [step.command, step.args];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = `[${step.label}] `;
  for (const [stream, sink] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    // Line by line: two steps at once would interleave mid-line otherwise.
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) sink.write(`${prefix}${line}\n`);
    });
    stream.on('end', () => pending && sink.write(`${prefix}${pending}\n`));
  }
  const handle: Running = {
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1))),
    end: () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // The group ended between the check and the signal.
      }
    },
  };
  running.add(handle);
  void handle.exited.then(() => running.delete(handle));
  return handle;
}

/**
 * Runs `step` at nice 19 while `urgent` is pending, so that it takes only the
 * CPU the real VMs leave idle; started after `urgent`, or still running when it
 * settles, it runs (again, from its start) at the normal priority: a niced step
 * beside other work on the machine (a loaded machine) could wait for good.
 */
export async function runYielding(step: Step, urgent: { settled: boolean; promise: Promise<unknown> }): Promise<number> {
  if (urgent.settled) return start(step, false).exited;
  const niced = start(step, true);
  const first = await Promise.race([niced.exited, urgent.promise.then(() => undefined)]);
  if (first !== undefined) return first;
  niced.end();
  await niced.exited;
  console.log(`[${step.label}] the real VMs are done: running it again from its start, at the normal priority`);
  return start(step, false).exited;
}

/** `promise`, with whether it has settled. */
export function watched(promise: Promise<unknown>): { settled: boolean; promise: Promise<unknown> } {
  const watch = { settled: false, promise };
  void promise.finally(() => (watch.settled = true));
  return watch;
}
