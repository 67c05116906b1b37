// `npm test`: every check in two lanes side by side.
// - The real VMs (vitest projects node, then browser), one file at a time at
//   the machine's normal priority, with their own output: the longest lane.
// - The rest, its lines marked: the type-check and the lint side by side, then
//   the pure logic and the simulation (projects unit and sim), at the lowest
//   priority while the real VMs run (tools/test-lanes.ts).
// Why the lowest priority: on this project's 2-core machine every lane is
// CPU-bound, and two lanes at one priority each ran about twice as slowly
// (a third made browser tests time out). The real VMs leave about a third of
// the CPU idle between their bursts; at nice 19 the other lane takes only that.
// Each vitest run ends with the time of each of its test files. On a machine
// without Chromium every test but the browser's runs, and then one line says
// how to get one.
import { spawn } from 'node:child_process';
import { findChromium } from '../test/browser/find-chromium.ts';
import { runYielding, watched } from './test-lanes.ts';

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s`;

async function main(): Promise<number> {
  const started = performance.now();
  const chromium = findChromium();
  const projects = chromium instanceof Error ? ['node'] : ['node', 'browser'];
  const vms = new Promise<number>((resolve) => {
    spawn('npx', ['vitest', 'run', ...projects.flatMap((project) => ['--project', project])], { stdio: 'inherit' }).on('close', (code) => resolve(code ?? 1));
  });
  const vmsDone = watched(vms);

  const logic = (async () => {
    const checks = await Promise.all(
      ['typecheck', 'lint'].map(async (script) => ({
        script,
        code: await runYielding({ label: script, command: 'npm', args: ['run', '--silent', script] }, vmsDone),
      })),
    );
    for (const { script, code } of checks) console.log(`npm test: ${script} ${code === 0 ? 'ok' : `failed (exit ${code})`} at ${seconds(started)}`);
    const code = await runYielding({ label: 'unit+sim', command: 'npx', args: ['vitest', 'run', '--project', 'unit', '--project', 'sim'] }, vmsDone);
    console.log(`npm test: unit and simulation ${code === 0 ? 'passed' : 'failed'} at ${seconds(started)}`);
    return code === 0 && checks.every(({ code }) => code === 0);
  })();

  const vmCode = await vms;
  console.log(`npm test: real VMs (${projects.join(', ')}) ${vmCode === 0 ? 'passed' : 'failed'} at ${seconds(started)}`);
  const passed = (await logic) && vmCode === 0;
  console.log(`npm test: ${passed ? 'passed' : 'failed'} in ${seconds(started)}`);
  if (chromium instanceof Error) {
    console.error(`npm test: ${chromium.message}`);
    return 1;
  }
  return passed ? 0 : 1;
}

process.exitCode = await main();
