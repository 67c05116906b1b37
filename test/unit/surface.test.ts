// The service's commands are declared once and implemented once
// (tools/surface-rules.ts, checked by `npm run lint`): the rule holds for the
// project, and it catches the surface written twice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandNames, SURFACE_FILE, surfaceViolations, type SourceFile } from '../../tools/surface-rules.ts';

const ROOT = join(import.meta.dirname, '../..');
const surface: SourceFile = { path: SURFACE_FILE, text: readFileSync(join(ROOT, SURFACE_FILE), 'utf8') };
const service: SourceFile = { path: 'engine/host/service.ts', text: readFileSync(join(ROOT, 'engine/host/service.ts'), 'utf8') };

describe("the service's commands", () => {
  it("are the surface interface's members", () => {
    expect(commandNames(surface)).toEqual(
      expect.arrayContaining(['configure', 'reprotect', 'kill', 'freezePrimary', 'cutLink', 'rebootGuest', 'typeOnConsole']),
    );
  });

  it('declared once and implemented once: a second declaration, a second implementation or a page that declares one is named', () => {
    const commands = commandNames(surface);
    expect(surfaceViolations([surface, service], commands)).toEqual([]);
    const mirror: SourceFile = { path: 'app/tabs/mirror.ts', text: 'export interface Mirror { freezePrimary(): Promise<void>; step?: boolean }\n' };
    const second: SourceFile = {
      path: 'engine/host/other.ts',
      text: "import type { ClusterCommands } from './surface.ts';\nexport class Other implements ClusterCommands {}\n",
    };
    const page: SourceFile = {
      path: 'app/views/panel.ts',
      text: 'export class Panel { readonly kill = () => {}; private readonly reprotect = document.body; }\n',
    };
    expect(surfaceViolations([surface, service, mirror, second, page], commands)).toEqual([
      "app/tabs/mirror.ts:1 declares freezePrimary again: the commands are engine/host/surface.ts's",
      'app/views/panel.ts:1 declares kill: a page calls the commands, it does not declare them',
      expect.stringMatching(
        /^more than one class implements ClusterCommands: engine\/host\/service.ts:\d+ \(ClusterService\), engine\/host\/other.ts:2 \(Other\)$/,
      ),
    ]);
  });
});
