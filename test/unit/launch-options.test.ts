// The three ways bootstation is started (npm start, the Docker image, the bin's #! line) pass Node the same options,
// so the memory the benchmark measures is the memory users get.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

const nodeOptions = (words: readonly string[]): string[] => words.filter((word) => word.startsWith('--'));

test('npm start, the Dockerfile ENTRYPOINT and the #! line of main.ts give node the same options', async () => {
  const start = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(await readFile('Dockerfile', 'utf8'))?.[1] ?? '[]') as string[];
  const shebang = ((await readFile('src/cli/main.ts', 'utf8')).split('\n', 1)[0] ?? '').split(/\s+/);
  assert.equal(start[0], 'node');
  assert.equal(entrypoint[0], 'node');
  assert.deepEqual(shebang.slice(0, 3), ['#!/usr/bin/env', '-S', 'node']);
  assert.ok(nodeOptions(start).includes('--max-semi-space-size=8'), `npm start: ${start.join(' ')}`);
  assert.deepEqual(nodeOptions(entrypoint), nodeOptions(start), 'Dockerfile ENTRYPOINT');
  assert.deepEqual(nodeOptions(shebang.slice(2)), nodeOptions(start), 'main.ts #! line');
});
