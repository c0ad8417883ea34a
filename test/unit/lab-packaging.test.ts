// The VM lab (tools/lab) stays out of what ships: the build compiles src/ alone, no src/ module imports the lab,
// and neither the npm package nor the Docker build context carries tools/. `bootstation lab` loads it at run time.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(REPO, dir), { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

test('no module under src/ imports tools/: the shipped build compiles without the lab', async () => {
  const offenders: string[] = [];
  for (const file of await sourceFiles('src')) {
    const text = await readFile(file, 'utf8');
    if (/^\s*(?:import|export)\b[^;]*?from\s+'[^']*\/tools\//m.test(text)) offenders.push(file.slice(REPO.length));
  }
  assert.deepEqual(offenders, [], 'src/ must not import tools/ statically; load it on demand as src/cli/lab.ts does');
});

test('the build, the npm package and the Docker context leave tools/ out', async () => {
  const build = JSON.parse(await readFile(join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  assert.deepEqual(build.include, ['src']);
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(!pkg.files.some((entry) => entry.startsWith('tools')), 'package.json "files" must not ship tools/');
  const dockerignore = (await readFile(join(REPO, '.dockerignore'), 'utf8')).split('\n');
  assert.ok(dockerignore.includes('*'), '.dockerignore starts from nothing');
  assert.ok(!dockerignore.some((line) => line.startsWith('!tools')), '.dockerignore must not let tools/ into the image build');
});

test('src/cli/lab.ts points at the lab command that exists in a checkout', async () => {
  const loader = await readFile(join(REPO, 'src/cli/lab.ts'), 'utf8');
  const path = /new URL\('\.\.\/\.\.\/(tools\/lab\/[a-z-]+\.ts)'/.exec(loader)?.[1];
  assert.equal(path, 'tools/lab/command.ts');
  const command = await readFile(join(REPO, path), 'utf8');
  assert.match(command, /^export async function runLab\(/m, 'the loader calls runLab');
});
