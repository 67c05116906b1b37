// The architecture as data: which folder may import what. Layers, bottom up:
// protocol, checkpoint and shared import nothing of ours; vm stands on
// checkpoint; replication on vm, checkpoint and protocol; the worker joins a
// VM with its replication role; the host sees only the replication layer's
// surface; the page sees the host and the worker's handle. test/ and tools/
// may import anything. `npm run lint` checks every import against this table
// (tools/check-imports.ts); the TypeScript projects hold the platform side
// (engine/protocol: ECMAScript only; engine: no DOM).

export interface LayerRule {
  /** A folder of the project. */
  folder: string;
  /** What it may import besides itself: a folder (anything in it) or one file. */
  may: readonly string[];
  /** Packages it may import (a name covers its subpaths); `node:` only from `*.node.ts` files. */
  packages: readonly string[];
}

/** What the host and the page may see of the replication layer: its commands, settings, events and clock. */
const REPLICATION_SURFACE = ['commands.ts', 'config.ts', 'events.ts', 'ports.ts'].map((f) => `engine/replication/${f}`);
/** The guest's wire formats and the VM's interface, not the machine itself. */
const VM_SURFACE = ['guest-protocol.ts', 'machine-api.ts'].map((f) => `engine/vm/${f}`);

export const LAYERS: readonly LayerRule[] = [
  { folder: 'engine/protocol', may: [], packages: [] },
  { folder: 'engine/checkpoint', may: [], packages: [] },
  { folder: 'engine/shared', may: [], packages: [] },
  { folder: 'engine/vm', may: ['engine/checkpoint', 'engine/shared'], packages: ['v86'] },
  { folder: 'engine/replication', may: ['engine/protocol', 'engine/checkpoint', 'engine/vm', 'engine/shared'], packages: [] },
  {
    folder: 'engine/worker',
    may: ['engine/protocol', 'engine/checkpoint', 'engine/vm', 'engine/replication', 'engine/shared'],
    // esbuild: spawn.node.ts bundles the worker's TypeScript for Node.
    packages: ['comlink', 'v86', 'node:', 'esbuild'],
  },
  { folder: 'engine/host', may: ['engine/protocol', 'engine/shared', ...REPLICATION_SURFACE, ...VM_SURFACE], packages: [] },
  {
    folder: 'app',
    may: [
      'engine/host',
      'engine/protocol',
      'engine/shared',
      ...REPLICATION_SURFACE,
      ...VM_SURFACE,
      'engine/worker/spawn.browser.ts',
      'engine/worker/ported-vm.ts',
      'engine/worker/vm-handle.ts',
    ],
    // comlink: a tab of a two-tab run talks to the shared host with it.
    packages: ['@xterm/xterm', 'comlink'],
  },
];

/** One import: from a project file (path relative to the root) to a project file or a package. */
export interface ImportEdge {
  from: string;
  /** A project path (relative to the root) or, for packages, the specifier as written. */
  to: string;
  package: boolean;
}

const within = (path: string, folder: string) => path === folder || path.startsWith(folder + '/');

function ruleFor(path: string, rules: readonly LayerRule[]): LayerRule | undefined {
  // The most specific folder: engine/protocol before engine.
  return [...rules].sort((a, b) => b.folder.length - a.folder.length).find((rule) => within(path, rule.folder));
}

const packageAllowed = (specifier: string, allowed: string) =>
  allowed.endsWith(':') ? specifier.startsWith(allowed) : specifier === allowed || specifier.startsWith(allowed + '/');

/** Every import that breaks the table, said so a person can fix it. Files outside every rule's folder (test/, tools/) are free. */
export function layerViolations(edges: readonly ImportEdge[], rules: readonly LayerRule[] = LAYERS): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const rule = ruleFor(edge.from, rules);
    if (!rule) continue;
    if (edge.package) {
      const allowed = rule.packages.some((p) => packageAllowed(edge.to, p));
      if (!allowed) problems.push(`${edge.from} imports the package '${edge.to}', which ${rule.folder}/ may not use`);
      else if (edge.to.startsWith('node:') && !edge.from.endsWith('.node.ts')) {
        problems.push(`${edge.from} imports '${edge.to}': Node's modules belong in a *.node.ts entry only`);
      }
      continue;
    }
    if (within(edge.to, rule.folder)) continue;
    if (!rule.may.some((allowed) => within(edge.to, allowed))) {
      problems.push(
        `${edge.from} imports ${edge.to}, which ${rule.folder}/ may not import (it may import: ${rule.may.join(', ') || 'nothing outside itself'})`,
      );
    }
  }
  return problems;
}

/** Each import cycle among project files, as the chain of files that closes it. */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of edges) if (!edge.package) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(file)), file]);
      return;
    }
    state.set(file, 'visiting');
    stack.push(file);
    for (const target of next.get(file) ?? []) visit(target);
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of next.keys()) visit(file);
  return cycles;
}
