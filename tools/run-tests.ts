// `npm test`: the type-check and the lint side by side, then every vitest
// project in one run: the pure logic and the simulation first, then the real
// VMs (under Node, then in Chromium) one file at a time (vite.config.ts). The
// run ends with the time of each test file. On a machine without Chromium
// every test but the browser's runs, and then one line says how to get one.
//
// Why not the real VMs beside the simulation: on this project's 2-core machine
// every lane is CPU-bound, and two lanes side by side took as long as one
// after the other (each ran about twice as slowly), where a third lane made
// browser tests time out.
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

async function main(): Promise<number> {
  const started = performance.now();
  const checks = await Promise.all(
    ['typecheck', 'lint'].map(async (script) => ({ script, code: await runPrefixed('npm', ['run', '--silent', script], `[${script}] `) })),
  );
  for (const { script, code } of checks) console.log(`npm test: ${script} ${code === 0 ? 'ok' : `failed (exit ${code})`}`);
  if (checks.some(({ code }) => code !== 0)) return 1;
  const chromium = findChromium();
  const projects = chromium instanceof Error ? ['unit', 'sim', 'node'] : ['unit', 'sim', 'node', 'browser'];
  const code = await run('npx', ['vitest', 'run', ...projects.flatMap((project) => ['--project', project])]);
  console.log(`npm test: ${code === 0 ? 'passed' : 'failed'} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (chromium instanceof Error) {
    console.error(`npm test: ${chromium.message}`);
    return 1;
  }
  return code;
}

process.exitCode = await main();
