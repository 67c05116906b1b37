// Long simulation runs: `npm run sim -- --schedules N [--seed S] [--threads T]`.
// Runs seeds S .. S+N-1 (S defaults to a fresh random base, printed) in T
// worker threads, in batches so progress shows, and prints what they reached;
// a failing schedule is shrunk and printed with how to replay it (--write-docs:
// the figures go to docs/benchmarks.md).
import { parseArgs } from 'node:util';
import { describeSummary, merge, runSeedsInWorkers, type RunSummary } from '../test/sim/run-schedules.ts';
import { shrink } from '../test/sim/shrink.ts';
import { BenchReport } from './bench-docs.ts';

const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    threads: { type: 'string', default: '2' },
    'write-docs': { type: 'boolean' },
  },
});
const count = Number(values.schedules);
const base = values.seed === undefined ? 1_000_000 + Math.floor(Math.random() * 2 ** 30) : Number(values.seed);
const threads = Number(values.threads);
const BATCH = 20_000;

console.log(`simulation: ${count} schedules from seed ${base} in ${threads} threads`);
const started = performance.now();
const done: RunSummary[] = [];
for (let from = 0; from < count; from += BATCH) {
  const seeds = Array.from({ length: Math.min(BATCH, count - from) }, (_, i) => base + from + i);
  done.push(await runSeedsInWorkers(seeds, threads));
  const so = merge(done);
  const seconds = (performance.now() - started) / 1000;
  console.log(`  ${so.schedules} done, ${so.failures.length} with violations, ${seconds.toFixed(0)} s`);
}
const total = merge(done);
const seconds = (performance.now() - started) / 1000;
const docs = new BenchReport('sim', 'Simulation', `npm run sim -- --schedules ${count} --seed ${base} --threads ${threads}`);
docs.line(`${seconds.toFixed(0)} s (${((1000 * seconds) / count).toFixed(2)} ms per schedule, wall)`);
for (const line of describeSummary(total)) docs.line(line);
docs.finish();
for (const failure of total.failures.slice(0, 20)) console.log(`  seed ${failure.schedule.seed}: ${failure.violations.join('; ')}`);
const first = total.failures[0];
if (first) {
  const small = await shrink(first.schedule);
  console.log(`shrunk in ${small.runs} runs to: ${small.violations.join('; ')}`);
  console.log(`replay: SIM_SCHEDULE='${JSON.stringify(small.schedule)}' npx vitest run test/sim -t replay`);
  process.exitCode = 1;
}
