// The import graph holds the architecture (ARCHITECTURE.md, issue #15): no module imports itself
// back through others (a runtime cycle makes evaluation order decide whether a binding is still in
// its temporal dead zone), and the services never import each other. ESLint's no-restricted-imports
// sees static imports only; this reads every import the TypeScript parser finds, dynamic import()
// of a literal included, so `await import('../test/…')` in the demo cannot slip through again.
//
// What counts:
//   - cycles: static runtime edges only. `import type` / `export type` are erased and ignored;
//     `import { type A }` is NOT (verbatimModuleSyntax keeps it as `import {} from`, which loads
//     the module). A dynamic import() runs after its importer is evaluated, so it cannot close a cycle.
//   - layering: every edge, type-only and dynamic ones included (a type import is still coupling).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS = ['cli', 'proxy', 'evaluator', 'dashboards', 'simulator', 'shared', 'test'] as const;
type Folder = (typeof FOLDERS)[number];

/** What each folder's product code must not import (test files, `*.test.ts`, are exempt as importers). */
const FORBIDDEN: Record<Folder, readonly Folder[]> = {
  cli: ['test'],
  proxy: ['evaluator', 'dashboards', 'simulator', 'cli', 'test'],
  evaluator: ['proxy', 'dashboards', 'simulator', 'cli', 'test'],
  dashboards: ['proxy', 'evaluator', 'simulator', 'cli', 'test'],
  simulator: ['proxy', 'evaluator', 'dashboards', 'cli', 'test'],
  shared: ['proxy', 'evaluator', 'dashboards', 'simulator', 'cli', 'test'],
  test: [],
};

interface Edge {
  from: string;
  to: string;
  /** Erased at run time (`import type`, `export type`). */
  typeOnly: boolean;
  /** `import('…')`: loaded when called, not when the importer is evaluated. */
  dynamic: boolean;
}

/** The relative imports of one module, resolved to repository paths (`a/b.ts`). */
function importsOf(file: string, source: string): Edge[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, dynamic: boolean): void => {
    if (!spec || !ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
    const to = join(dirname(file), spec.text).split(sep).join('/');
    edges.push({ from: file, to, typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly === true, false);
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly, false);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression, node.isTypeOnly, false);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], false, true);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal as ts.Expression, true, false);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** Every runtime cycle, each as one closed path (`a.ts → b.ts → a.ts`), from the strongly connected components. */
function runtimeCycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly && !e.dynamic) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's algorithm, iterative (the graph has hundreds of modules; recursion would do too, but need not).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1] as [string, number];
      const [node, i] = frame;
      if (i === 0) {
        index.set(node, counter);
        low.set(node, counter++);
        stack.push(node);
        onStack.add(node);
      }
      const out = next.get(node) ?? [];
      if (i < out.length) {
        frame[1] = i + 1;
        const to = out[i] as string;
        if (!index.has(to)) work.push([to, 0]);
        else if (onStack.has(to)) low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0]) as number, low.get(node) as number));
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        const selfLoop = (next.get(node) ?? []).includes(node);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  // One readable path per component: breadth-first from its first member (sorted) back to itself.
  return components.map((component) => {
    const members = new Set(component);
    const first = [...component].sort()[0] as string;
    const previous = new Map<string, string>();
    const queue = [first];
    while (queue.length > 0) {
      const node = queue.shift() as string;
      for (const to of next.get(node) ?? []) {
        if (!members.has(to)) continue;
        if (to === first) {
          const path = [first];
          for (let at = node; at !== first; at = previous.get(at) as string) path.splice(1, 0, at);
          return [...path, first].join(' → ');
        }
        if (!previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    return component.join(' → ');
  });
}

const folderOf = (file: string): Folder | undefined => FOLDERS.find((f) => file.startsWith(`${f}/`));

/** Edges that cross a boundary of the layering (test files as importers are exempt). */
function layeringViolations(edges: readonly Edge[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (!from || e.from.endsWith('.test.ts')) continue;
    if (from === 'simulator' && to !== 'simulator' && to !== 'shared') problems.push(`${e.from} → ${e.to} (simulator/ imports only shared/)`);
    else if (to && FORBIDDEN[from].includes(to)) problems.push(`${e.from} → ${e.to} (${from}/ must not import ${to}/${e.dynamic ? ', dynamic import' : e.typeOnly ? ', type-only' : ''})`);
  }
  return problems;
}

function repositoryEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const folder of FOLDERS) {
    for (const entry of readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const file = relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/');
      edges.push(...importsOf(file, readFileSync(join(ROOT, file), 'utf8')));
    }
  }
  return edges;
}

describe('the import graph of the repository', () => {
  const edges = repositoryEdges();

  it('is read: hundreds of modules, every folder present', () => {
    expect(new Set(edges.map((e) => e.from)).size).toBeGreaterThan(200);
    for (const folder of FOLDERS) expect(edges.some((e) => folderOf(e.from) === folder), folder).toBe(true);
  });

  it('has no runtime import cycle', () => {
    expect(runtimeCycles(edges)).toEqual([]);
  });

  it('has no edge between proxy/, evaluator/ and dashboards/, none from shared/ or simulator/ up, none from product code into test/', () => {
    expect(layeringViolations(edges)).toEqual([]);
  });
});

describe('the checker itself', () => {
  it('classifies imports: type-only, inline type (a runtime load), re-exports, dynamic, import types', () => {
    const src = [
      "import type { A } from './a.ts';",
      "import { type B } from './b.ts';",
      "import c, { d } from '../c.ts';",
      "export { e } from './e.ts';",
      "export type { F } from './f.ts';",
      "export * from './g.ts';",
      "import 'node:fs';",
      "import x from 'zod';",
      "const h = await import('./h.ts');",
      "let i: import('./i.ts').I;",
    ].join('\n');
    const got = importsOf('proxy/m.ts', src).map((e) => `${e.to}${e.typeOnly ? ' type' : ''}${e.dynamic ? ' dynamic' : ''}`);
    expect(got).toEqual(['proxy/a.ts type', 'proxy/b.ts', 'c.ts', 'proxy/e.ts', 'proxy/f.ts type', 'proxy/g.ts', 'proxy/h.ts dynamic', 'proxy/i.ts type']);
  });

  it('finds a cycle through re-exports, ignores one closed only by a type import or a dynamic import', () => {
    const graph = (files: Record<string, string>): Edge[] => Object.entries(files).flatMap(([f, s]) => importsOf(f, s));
    expect(runtimeCycles(graph({ 'shared/a.ts': "export { b } from './b.ts';", 'shared/b.ts': "import { c } from './c.ts';", 'shared/c.ts': "import { a } from './a.ts';" }))).toEqual(['shared/a.ts → shared/b.ts → shared/c.ts → shared/a.ts']);
    expect(runtimeCycles(graph({ 'shared/a.ts': "import { b } from './b.ts';", 'shared/b.ts': "import type { A } from './a.ts';" }))).toEqual([]);
    expect(runtimeCycles(graph({ 'shared/a.ts': "import { b } from './b.ts';", 'shared/b.ts': "const a = () => import('./a.ts');" }))).toEqual([]);
    expect(runtimeCycles(graph({ 'shared/a.ts': "import { a } from './a.ts';" }))).toEqual(['shared/a.ts → shared/a.ts']);
  });

  it('flags service-to-service edges, type-only and dynamic ones too, and product code reaching into test/', () => {
    const edges = [
      ...importsOf('evaluator/main.ts', "import type { X } from '../proxy/admin.ts';"),
      ...importsOf('cli/demo-command.ts', "const m = await import('../test/fake-provider/server.ts');"),
      ...importsOf('simulator/server.ts', "import { y } from '../proxy/y.ts';"),
      ...importsOf('dashboards/a.ts', "import { z } from '../shared/z.ts';"),
      ...importsOf('proxy/x.test.ts', "import { q } from '../test/q.ts';"),
    ];
    expect(layeringViolations(edges)).toEqual([
      'evaluator/main.ts → proxy/admin.ts (evaluator/ must not import proxy/, type-only)',
      'cli/demo-command.ts → test/fake-provider/server.ts (cli/ must not import test/, dynamic import)',
      'simulator/server.ts → proxy/y.ts (simulator/ imports only shared/)',
    ]);
  });
});
