// What a benchmark found, printed as it goes and, with --write-docs, written
// by the benchmark itself into its own section of docs/benchmarks.md, with the
// machine, the date and the command that measured it: the figures there are
// never typed by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const DOCS = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');

/** The machine, as a reader needs it to compare figures. */
export function machine(): string {
  const cores = cpus();
  return `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export class BenchReport {
  private readonly lines: string[] = [];

  /** `name`: the section's key in docs/benchmarks.md; `command`: how to measure it again. */
  constructor(
    private readonly name: string,
    private readonly title: string,
    private readonly command: string,
  ) {}

  /** A figure (or a table's line): printed now, and kept for the docs. */
  line(text = ''): void {
    console.log(text);
    this.lines.push(text);
  }

  /** With --write-docs, the section of docs/benchmarks.md this benchmark owns is written anew. */
  finish(): void {
    if (!process.argv.includes('--write-docs')) return;
    const start = `<!-- bench:${this.name} -->`;
    const end = `<!-- /bench:${this.name} -->`;
    const section = [
      start,
      `### ${this.title}`,
      '',
      `\`${this.command}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, on ${machine()}.`,
      '',
      '```text',
      ...this.lines.map((l) => l.trimEnd()),
      '```',
      end,
    ].join('\n');
    const docs = readFileSync(DOCS, 'utf8');
    const at = docs.indexOf(start);
    const next = at === -1 ? `${docs.trimEnd()}\n\n${section}\n` : `${docs.slice(0, at)}${section}${docs.slice(docs.indexOf(end, at) + end.length)}`;
    writeFileSync(DOCS, next);
    console.log(`wrote its section of ${DOCS}`);
  }
}
