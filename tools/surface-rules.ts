// The service's commands are declared once (engine/host/surface.ts) and
// implemented once (the class that implements ClusterCommands). A second
// interface or type that lists a command, a second class that implements
// them, or a page module that declares one again, is the surface written
// twice: what it took six files to add one button to the pair. Read from the
// source as the compiler parses it.
import ts from 'typescript';

export const SURFACE_FILE = 'engine/host/surface.ts';
const SURFACE_INTERFACE = 'ClusterCommands';

export interface SourceFile {
  /** Relative to the project's root. */
  path: string;
  text: string;
}

/** The command names, as the surface declares them. */
export function commandNames(surface: SourceFile): string[] {
  const file = ts.createSourceFile(surface.path, surface.text, ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  file.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === SURFACE_INTERFACE) {
      for (const member of node.members) if (member.name && ts.isIdentifier(member.name)) names.push(member.name.text);
    }
  });
  return names;
}

/** A member that declares something callable (a method, or a property of a function type) under `names`' name. */
function callableNamed(member: ts.Node, names: ReadonlySet<string>): string | undefined {
  const named =
    (ts.isMethodSignature(member) || ts.isMethodDeclaration(member) || ts.isPropertySignature(member) || ts.isPropertyDeclaration(member)) && member.name;
  if (!named || !ts.isIdentifier(named) || !names.has(named.text)) return undefined;
  if (ts.isMethodSignature(member) || ts.isMethodDeclaration(member)) return named.text;
  const type = (member as ts.PropertySignature | ts.PropertyDeclaration).type;
  const value = ts.isPropertyDeclaration(member) ? member.initializer : undefined;
  return (type && ts.isFunctionTypeNode(type)) || (value && (ts.isArrowFunction(value) || ts.isFunctionExpression(value))) ? named.text : undefined;
}

/** Every place a command is declared again, said so a person can fix it. */
export function surfaceViolations(files: readonly SourceFile[], commands: readonly string[]): string[] {
  const wanted = new Set(commands);
  const problems: string[] = [];
  const implementers: string[] = [];
  for (const { path, text } of files) {
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      const where = () => `${path}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
      // A type that lists a command: only the surface's own.
      if ((ts.isInterfaceDeclaration(node) || ts.isTypeLiteralNode(node)) && path !== SURFACE_FILE) {
        const listed = node.members.flatMap((m) => callableNamed(m, wanted) ?? []);
        if (listed.length > 0) problems.push(`${where()} declares ${listed.join(', ')} again: the commands are ${SURFACE_FILE}'s`);
      }
      if (ts.isClassDeclaration(node)) {
        const implementsSurface = node.heritageClauses?.some((c) => c.types.some((t) => t.expression.getText(file) === SURFACE_INTERFACE));
        if (implementsSurface) implementers.push(`${where()} (${node.name?.text ?? 'a class'})`);
        // A page module has no business declaring a command: it calls them.
        if (path.startsWith('app/')) {
          for (const m of node.members) {
            const name = callableNamed(m, wanted);
            if (name) problems.push(`${where()} declares ${name}: a page calls the commands, it does not declare them`);
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  if (implementers.length > 1) problems.push(`more than one class implements ${SURFACE_INTERFACE}: ${implementers.join(', ')}`);
  return problems;
}
