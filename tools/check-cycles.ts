// Fails when the project's own TypeScript modules import each other in a cycle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DIRS = ['app', 'engine', 'tools', 'test'];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const files = DIRS.flatMap((d) => {
  try {
    return sources(join(ROOT, d));
  } catch {
    return [];
  }
});
const edges = new Map<string, string[]>(
  files.map((file) => [
    file,
    [...readFileSync(file, 'utf8').matchAll(IMPORT)]
      .map((m) => resolve(dirname(file), m[1] ?? ''))
      .filter((target) => target.endsWith('.ts')),
  ]),
);

const state = new Map<string, 'visiting' | 'done'>();
const stack: string[] = [];
const cycles: string[][] = [];
function visit(file: string): void {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'visiting') {
    cycles.push([...stack.slice(stack.indexOf(file)), file]);
    return;
  }
  state.set(file, 'visiting');
  stack.push(file);
  for (const next of edges.get(file) ?? []) visit(next);
  stack.pop();
  state.set(file, 'done');
}
files.forEach(visit);

if (cycles.length > 0) {
  for (const cycle of cycles) console.error('import cycle: ' + cycle.map((f) => relative(ROOT, f)).join(' -> '));
  process.exit(1);
}
console.log(`no import cycles in ${files.length} modules`);
