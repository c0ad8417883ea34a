// Every source file opens with a one-line comment saying what it owns, so the code map reads file by file.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function typescriptFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort();
}

for (const folder of ['src', 'tools']) {
  test(`every ${folder}/**/*.ts starts with a // comment saying what it owns`, () => {
    const files = typescriptFiles(folder);
    assert.ok(files.length > 0, `no TypeScript files under ${folder}/`);
    const bare = files.filter((file) => {
      // An executable's shebang comes first; its comment is the next line.
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      const first = lines[0]?.startsWith('#!') ? lines[1] : lines[0];
      return !/^\/\/ \S/.test(first ?? '');
    });
    assert.deepEqual(bare, [], 'these files lack a first-line comment; add one line, "// <what this file owns>"');
  });
}
