import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The import graph of src/ and the arrows it must never have (issue 15): layers import one way, shared
// facts live in shared modules, and nothing shipped reaches into tools/, test/ or bench/.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One import: the importing file and the imported file, both relative to the checkout, with '/' separators. */
interface ImportArrow {
  from: string;
  to: string;
}

/**
 * A rule: files under `from` never import files under any of `to` (folders relative to the checkout), except
 * that an arrow with both ends inside `exceptWithin` is allowed (the commands import each other; a leaf its own files).
 */
interface ForbiddenArrow {
  from: string;
  to: readonly string[];
  exceptWithin?: string;
  why: string;
}

const FORBIDDEN: readonly ForbiddenArrow[] = [
  // Covers the http/, dhcp/, tftp/ and doctor/ → cli/ and every other folder, present or future.
  { from: 'src/', to: ['src/cli/'], exceptWithin: 'src/cli/', why: 'commands call into the core, never the other way' },
  { from: 'src/ipxe/', to: ['src/dhcp/', 'src/ingest/'], why: 'shared facts come from the platform table or a shared module' },
  { from: 'src/files/', to: ['src/ipxe/'], why: 'file helpers sit below the iPXE layer' },
  { from: 'src/boot/', to: ['src/ipxe/'], why: 'the build takes the platform table, its identity and script text from boot/, so boot/ sits below it' },
  // Leaves (docs/architecture.md): shared helpers every layer may use, which therefore use no layer.
  ...['src/text/', 'src/net/', 'src/files/'].map((leaf) => ({ from: leaf, to: ['src/'], exceptWithin: leaf, why: 'a leaf imports only its own folder' })),
  { from: 'src/', to: ['tools/', 'test/', 'bench/'], why: 'shipped code never reaches into the lab, the tests or the benchmarks' },
];

// Static imports and re-exports (one statement may span lines), side-effect imports and import('…').
// Statements are matched from the start of a line, so a comment that quotes one is not an import.
const STATIC_IMPORT = /^[ \t]*(?:import|export)\b[^;]*?\bfrom[ \t]*['"]([^'"\n]+)['"]/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import[ \t]*['"]([^'"\n]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The relative module specifiers a TypeScript source imports (packages and node: builtins are left out). */
function relativeSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of source.matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) found.push(specifier);
    }
  }
  return found;
}

async function typescriptFiles(folder: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

async function importArrows(folder: string): Promise<ImportArrow[]> {
  const arrows: ImportArrow[] = [];
  for (const file of await typescriptFiles(folder)) {
    const source = await readFile(join(ROOT, file), 'utf8');
    for (const specifier of relativeSpecifiers(source)) {
      const to = relative(ROOT, resolve(ROOT, dirname(file), specifier)).split('\\').join('/');
      arrows.push({ from: file, to });
    }
  }
  return arrows;
}

/** Every arrow that breaks a rule, as "file → imported file (why)". */
function forbiddenArrows(arrows: readonly ImportArrow[], rules: readonly ForbiddenArrow[]): string[] {
  const problems: string[] = [];
  for (const arrow of arrows) {
    for (const rule of rules) {
      const within = rule.exceptWithin !== undefined && arrow.from.startsWith(rule.exceptWithin) && arrow.to.startsWith(rule.exceptWithin);
      if (arrow.from.startsWith(rule.from) && !within && rule.to.some((folder) => arrow.to.startsWith(folder))) {
        const except = rule.exceptWithin === undefined ? '' : ` (except within ${rule.exceptWithin})`;
        problems.push(`${arrow.from} → ${arrow.to}: ${rule.from} never imports ${rule.to.join(' or ')}${except}; ${rule.why}`);
      }
    }
  }
  return problems;
}

/** The arrows between folders of src/ ("src/http/" → "src/boot/"), one per pair, leaving out imports within a folder. */
function folderArrows(arrows: readonly ImportArrow[]): ImportArrow[] {
  const folder = (file: string): string => file.split('/').slice(0, 2).join('/') + '/';
  const pairs = new Set(arrows.filter((a) => a.to.startsWith('src/')).map((a) => `${folder(a.from)} ${folder(a.to)}`));
  return [...pairs].map((pair) => pair.split(' ')).filter(([from, to]) => from !== to).map(([from, to]) => ({ from: from!, to: to! }));
}

/**
 * Import cycles as the files around them ("a → b → a"): one for every arrow back into the path of a depth-first
 * search, so every set of files that import each other in a circle shows at least one.
 */
function importCycles(arrows: readonly ImportArrow[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of arrows) next.set(from, [...(next.get(from) ?? []), to]);
  const done = new Set<string>();
  const cycles: string[] = [];
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string): void => {
    path.push(file);
    onPath.add(file);
    for (const to of next.get(file) ?? []) {
      if (onPath.has(to)) cycles.push([...path.slice(path.indexOf(to)), to].join(' → '));
      else if (!done.has(to)) visit(to);
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
  };
  for (const file of [...next.keys()].sort()) if (!done.has(file)) visit(file);
  return cycles;
}

describe('import graph of src/', () => {
  test('the import reader sees multi-line, type-only, re-exported, side-effect and dynamic imports, and not comments', () => {
    const source = [
      "import assert from 'node:assert';",
      'import {',
      '  a,',
      '  b,',
      "} from './multi-line.ts';",
      "import type { T } from '../type-only.ts';",
      "export { c } from './re-export.ts';",
      "import './side-effect.ts';",
      "const m = await import('./dynamic.ts');",
      "// import { d } from './in-a-comment.ts';",
      " * import { e } from './in-a-doc-comment.ts';",
      "import got from 'got';",
    ].join('\n');
    assert.deepEqual(relativeSpecifiers(source).sort(), [
      '../type-only.ts',
      './dynamic.ts',
      './multi-line.ts',
      './re-export.ts',
      './side-effect.ts',
    ]);
  });

  test('the rules catch a forbidden arrow and a cycle', () => {
    const arrows = [
      { from: 'src/http/app.ts', to: 'src/cli/images.ts' },
      { from: 'src/a/x.ts', to: 'src/b/y.ts' },
      { from: 'src/b/y.ts', to: 'src/a/x.ts' },
      { from: 'src/bench-like/z.ts', to: 'bench/run.ts' },
      { from: 'src/text/format.ts', to: 'src/text/units.ts' },
      { from: 'src/text/format.ts', to: 'src/config/model.ts' },
      { from: 'src/cli/run.ts', to: 'src/cli/serve.ts' },
    ];
    assert.deepEqual(forbiddenArrows(arrows, FORBIDDEN), [
      'src/http/app.ts → src/cli/images.ts: src/ never imports src/cli/ (except within src/cli/); commands call into the core, never the other way',
      'src/bench-like/z.ts → bench/run.ts: src/ never imports tools/ or test/ or bench/; shipped code never reaches into the lab, the tests or the benchmarks',
      'src/text/format.ts → src/config/model.ts: src/text/ never imports src/ (except within src/text/); a leaf imports only its own folder',
    ]);
    assert.deepEqual(importCycles(arrows), ['src/a/x.ts → src/b/y.ts → src/a/x.ts']);
    const folders = [
      { from: 'src/a/one.ts', to: 'src/b/two.ts' },
      { from: 'src/b/three.ts', to: 'src/a/four.ts' },
      { from: 'src/a/one.ts', to: 'src/a/four.ts' },
    ];
    assert.deepEqual(importCycles(folders), [], 'no file cycle');
    assert.deepEqual(importCycles(folderArrows(folders)), ['src/a/ → src/b/ → src/a/'], 'but a folder cycle');
  });

  test('src/ is read whole: its files and their imports are found', async () => {
    const arrows = await importArrows('src');
    // A known dynamic import and a known static one: an empty or broken reader would pass every rule below.
    assert.ok(arrows.some((a) => a.from === 'src/cli/run.ts' && a.to === 'src/cli/serve.ts'), 'src/cli/run.ts → src/cli/serve.ts (dynamic import) not found');
    assert.ok(arrows.some((a) => a.from === 'src/dhcp/service.ts' && a.to === 'src/dhcp/codec.ts'), 'src/dhcp/service.ts → src/dhcp/codec.ts not found');
    const files = new Set(await typescriptFiles('src'));
    const missing = arrows.filter((a) => a.to.startsWith('src/') && !files.has(a.to));
    assert.deepEqual(missing, [], 'an import names a file that does not exist, so the reader resolved it wrongly');
  });

  test('no import cycle', async () => {
    assert.deepEqual(importCycles(await importArrows('src')), [], 'import cycles in src/');
  });

  test('no cycle between the folders of src/: the layers import one way', async () => {
    assert.deepEqual(importCycles(folderArrows(await importArrows('src'))), [], 'folders of src/ that import each other in a circle');
  });

  test('no forbidden arrow', async () => {
    assert.deepEqual(forbiddenArrows(await importArrows('src'), FORBIDDEN), [], 'imports against the grain in src/');
  });
});
