// Fails when an import breaks the architecture (tools/import-rules.ts), when
// the project's own modules import each other in a cycle, or when the
// service's commands are declared a second time (tools/surface-rules.ts).
import ts from 'typescript';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { importCycles, layerViolations, type ImportEdge } from './import-rules.ts';
import { commandNames, SURFACE_FILE, surfaceViolations } from './surface-rules.ts';

const ROOT = join(import.meta.dirname, '..');
const DIRS = ['app', 'engine', 'tools', 'test'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every static, dynamic and side-effect import of `file`, as the compiler reads them. */
function importsOf(file: string): ImportEdge[] {
  const from = relative(ROOT, file);
  return ts
    .preProcessFile(readFileSync(file, 'utf8'), true, true)
    .importedFiles.map(({ fileName }) =>
      fileName.startsWith('.')
        ? { from, to: relative(ROOT, resolve(dirname(file), fileName.replace(/\?.*$/, ''))), package: false }
        : { from, to: fileName, package: true },
    );
}

const files = DIRS.flatMap((dir) => sources(join(ROOT, dir)));
const edges = files.flatMap(importsOf);
const read = (file: string) => ({ path: relative(ROOT, file), text: readFileSync(file, 'utf8') });
// The host and the page: where the service's commands are declared, implemented and called.
const hostAndPage = files.filter((file) => /^(engine\/host|app)\//.test(relative(ROOT, file))).map(read);
const problems = [
  ...layerViolations(edges),
  ...importCycles(edges.filter((e) => e.to.endsWith('.ts'))).map((cycle) => `import cycle: ${cycle.join(' -> ')}`),
  ...surfaceViolations(hostAndPage, commandNames(read(join(ROOT, SURFACE_FILE)))),
];
if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}
console.log(`${files.length} modules, ${edges.length} imports: every one within its layer's rules, no cycles; the service's commands declared once`);
