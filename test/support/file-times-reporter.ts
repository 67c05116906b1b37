// A vitest reporter that ends the run with the time of each test file, slowest
// first, so the next slow file is seen at once (docs/testing.md keeps a copy).
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

export default class FileTimesReporter implements Reporter {
  private startedAt = 0;

  onTestRunStart(): void {
    this.startedAt = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = modules.map((module) => {
      const d = module.diagnostic();
      const seconds = (d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration) / 1000;
      return { seconds, project: module.project.name, file: relative(process.cwd(), module.moduleId), tests: [...module.children.allTests()].length };
    });
    rows.sort((a, b) => b.seconds - a.seconds);
    const lines = rows.map((r) => `${r.seconds.toFixed(1).padStart(7)} s  ${r.project.padEnd(8)} ${String(r.tests).padStart(3)} tests  ${r.file}`);
    const wall = (performance.now() - this.startedAt) / 1000;
    console.log(`\nTime per test file (the run took ${wall.toFixed(0)} s):\n${lines.join('\n')}\n`);
  }
}
