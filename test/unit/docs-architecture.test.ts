// Keeps docs/architecture.md a true code map: every folder of src/ is in its tables, and the import table lists
// exactly the folders each folder's files import.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');
const DOC = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');

// Static imports and re-exports with a relative specifier, e.g. `from '../boot/platform.ts'`.
const RELATIVE_IMPORT = /^[ \t]*(?:import|export)\b[^;]*?\bfrom[ \t]*'(\.[^'\n]+)'/gm;

function srcFolders(): string[] {
  return readdirSync(SRC, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** The other folders of src/ that a folder's files (subfolders included) import, sorted. */
function importedFolders(folder: string): string[] {
  const imported = new Set<string>();
  for (const entry of readdirSync(join(SRC, folder), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    for (const match of readFileSync(join(entry.parentPath, entry.name), 'utf8').matchAll(RELATIVE_IMPORT)) {
      const [top] = relative(SRC, resolve(entry.parentPath, match[1]!)).split(sep);
      if (top !== undefined && top !== folder && !top.startsWith('..')) imported.add(top);
    }
  }
  return [...imported].sort();
}

/** The rows of the table under a heading: first cell → the folder names in the second cell. */
function tableUnder(heading: string): Map<string, string[]> {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.ok(start !== -1, `docs/architecture.md lacks the heading "## ${heading}"`);
  const end = DOC.indexOf('\n## ', start + 1);
  const section = DOC.slice(start, end === -1 ? undefined : end);
  const rows = new Map<string, string[]>();
  for (const [, first, second] of section.matchAll(/^\| `(?:src\/)?([a-z0-9-]+)\/` \|([^\n]*)\|$/gm)) {
    rows.set(first!, [...second!.matchAll(/`([a-z0-9-]+)\/`/g)].map((match) => match[1]!).sort());
  }
  return rows;
}

test('docs/architecture.md says what every folder of src/ owns, and names no folder that is gone', () => {
  assert.deepEqual([...tableUnder('Folders of `src/`').keys()].sort(), srcFolders(), 'the folder table differs from ls src/: add or remove rows');
});

test('docs/architecture.md lists exactly the folders each folder of src/ imports', () => {
  const documented = tableUnder('Which way the imports run');
  const actual = new Map(srcFolders().map((folder) => [folder, importedFolders(folder)]));
  assert.deepEqual(new Map([...documented].sort()), new Map([...actual].sort()), 'the import table differs from the code: update its rows (the code is the truth)');
});

test('the doc names the file that decides what a client gets first, and it exists', () => {
  const linked = [...DOC.matchAll(/\]\(\.\.\/(src\/[^)]+\.ts)\)/g)].map((match) => match[1]!);
  assert.ok(linked.includes('src/boot/platform.ts'), 'docs/architecture.md does not link the platform table');
});
