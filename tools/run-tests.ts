// `npm test`: every check in two lanes side by side.
// - The real VMs (vitest projects node, then browser), one file at a time at
//   the machine's normal priority, with their own output: the longest lane.
// - The rest at the lowest priority (nice 19), its lines marked: the
//   type-check and the lint side by side, then the pure logic and the
//   simulation (projects unit and sim).
// Why the lowest priority: on this project's 2-core machine every lane is
// CPU-bound, and two lanes at one priority each ran about twice as slowly
// (a third made browser tests time out). The real VMs leave a core about a
// third idle between their bursts; at nice 19 the logic lane takes only that.
// Each vitest run ends with the time of each of its test files. On a machine
// without Chromium every test but the browser's runs, and then one line says
// how to get one.
import { spawn } from 'node:child_process';
import { findChromium } from '../test/browser/find-chromium.ts';

/** Runs `command` with its own output. */
function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    spawn(command, args, { stdio: 'inherit' }).on('close', (code) => resolve(code ?? 1));
  });
}

/** Runs `command`; its output, line by line, each line after `prefix` (two at once would interleave mid-line otherwise). */
function runPrefixed(command: string, args: string[], prefix: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [stream, sink] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
      let pending = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString()).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) sink.write(`${prefix}${line}\n`);
      });
      stream.on('end', () => pending && sink.write(`${prefix}${pending}\n`));
    }
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s`;

/** The type-check and the lint side by side, then the unit and simulation projects; all at nice 19. */
async function logicLane(): Promise<boolean> {
  const started = performance.now();
  const checks = await Promise.all(
    ['typecheck', 'lint'].map(async (script) => ({
      script,
      code: await runPrefixed('nice', ['-n', '19', 'npm', 'run', '--silent', script], `[${script}] `),
    })),
  );
  for (const { script, code } of checks) console.log(`npm test: ${script} ${code === 0 ? 'ok' : `failed (exit ${code})`} at ${seconds(started)}`);
  const code = await runPrefixed('nice', ['-n', '19', 'npx', 'vitest', 'run', '--project', 'unit', '--project', 'sim'], '[unit+sim] ');
  console.log(`npm test: unit and simulation ${code === 0 ? 'passed' : 'failed'} at ${seconds(started)}`);
  return code === 0 && checks.every(({ code }) => code === 0);
}

async function main(): Promise<number> {
  const started = performance.now();
  const chromium = findChromium();
  const projects = chromium instanceof Error ? ['node'] : ['node', 'browser'];
  const [logicPassed, vmCode] = await Promise.all([logicLane(), run('npx', ['vitest', 'run', ...projects.flatMap((project) => ['--project', project])])]);
  console.log(`npm test: real VMs (${projects.join(', ')}) ${vmCode === 0 ? 'passed' : 'failed'}`);
  const passed = logicPassed && vmCode === 0;
  console.log(`npm test: ${passed ? 'passed' : 'failed'} in ${seconds(started)}`);
  if (chromium instanceof Error) {
    console.error(`npm test: ${chromium.message}`);
    return 1;
  }
  return passed ? 0 : 1;
}

process.exitCode = await main();
