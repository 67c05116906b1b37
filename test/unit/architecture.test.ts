// The architecture is held by the compiler and the linter: each layer's
// TypeScript project lacks what the layer must not use, and every import is
// checked against the layer table (tools/import-rules.ts).
import ts from 'typescript';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, layerViolations, type ImportEdge } from '../../tools/import-rules.ts';

const ROOT = join(import.meta.dirname, '../..');
const fixture = (name: string) => join(ROOT, 'test/fixtures/layers', name);

/** The compiler's errors for `file` under the options of the project `config`. */
function compile(config: string, file: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, config),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${config}`);
  const program = ts.createProgram([file], parsed.options);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const edge = (from: string, to: string): ImportEdge => ({ from, to, package: false });

describe('the layers', () => {
  it('the protocol core compiles with neither the DOM nor Node; the page project has both', () => {
    expect(compile('engine/protocol/tsconfig.json', fixture('uses-dom.ts')).join('\n')).toContain("Cannot find name 'document'");
    expect(compile('engine/protocol/tsconfig.json', fixture('uses-node.ts')).join('\n')).toContain("Cannot find module 'node:fs'");
    // The same files are fine where the DOM and Node belong: only the layer's project refuses them.
    expect(compile('tsconfig.json', fixture('uses-dom.ts'))).toEqual([]);
    expect(compile('tsconfig.json', fixture('uses-node.ts'))).toEqual([]);
  });

  it('the engine compiles without the DOM', () => {
    expect(compile('engine/tsconfig.json', fixture('uses-dom.ts')).join('\n')).toContain("Cannot find name 'document'");
  });

  it('the page compiles with the DOM and without Node', () => {
    expect(compile('app/tsconfig.json', fixture('uses-dom.ts'))).toEqual([]);
    expect(compile('app/tsconfig.json', fixture('uses-node.ts')).join('\n')).toContain("Cannot find module 'node:fs'");
  });

  it('the import rules refuse what breaks a layer, and let the rest through', () => {
    const problems = layerViolations([
      edge('engine/protocol/primary.ts', 'app/main.ts'),
      { from: 'engine/protocol/primary.ts', to: 'node:fs', package: true },
      edge('engine/checkpoint/delta-path.ts', 'engine/replication/state-path.ts'),
      edge('engine/host/cluster.ts', 'engine/replication/link.ts'),
      { from: 'engine/worker/worker-main.ts', to: 'node:worker_threads', package: true },
      edge('engine/vm/machine.ts', 'engine/host/cluster.ts'),
      // Allowed: within a layer, down the layers, a surface file, Node in a Node entry, tests.
      edge('engine/protocol/primary.ts', 'engine/protocol/failover.ts'),
      edge('engine/replication/primary-driver.ts', 'engine/protocol/primary.ts'),
      edge('engine/host/cluster.ts', 'engine/replication/commands.ts'),
      { from: 'engine/worker/worker.node.ts', to: 'node:worker_threads', package: true },
      edge('test/unit/x.test.ts', 'engine/replication/link.ts'),
    ]);
    expect(problems).toEqual([
      expect.stringContaining('engine/protocol/primary.ts imports app/main.ts'),
      expect.stringContaining("engine/protocol/primary.ts imports the package 'node:fs'"),
      expect.stringContaining('engine/checkpoint/delta-path.ts imports engine/replication/state-path.ts'),
      expect.stringContaining('engine/host/cluster.ts imports engine/replication/link.ts'),
      expect.stringContaining("engine/worker/worker-main.ts imports 'node:worker_threads': Node's modules belong in a *.node.ts entry only"),
      expect.stringContaining('engine/vm/machine.ts imports engine/host/cluster.ts'),
    ]);
  });

  it('finds an import cycle', () => {
    const cycles = importCycles([edge('engine/host/a.ts', 'engine/host/b.ts'), edge('engine/host/b.ts', 'engine/host/a.ts')]);
    expect(cycles).toEqual([['engine/host/a.ts', 'engine/host/b.ts', 'engine/host/a.ts']]);
  });
});
