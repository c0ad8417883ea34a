// What "installs nothing and the old version keeps serving" means on disk, for the tests of a refused release.
import assert from 'node:assert/strict';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Asserts image `id` still links the version `link` names, serves `file` with `content`, and no other version or staging folder is left. */
export async function assertOldVersionServes(dataDir: string, id: string, link: string, file: string, content: string): Promise<void> {
  assert.equal(await readlink(join(dataDir, 'images', id)), link, 'the image link still names the old version');
  assert.equal(await readFile(join(dataDir, 'images', id, file), 'utf8'), content);
  const versions = await readdir(join(dataDir, 'images', '.versions'));
  assert.equal(versions.length, 1, `no staging or new version left: ${versions.join(', ')}`);
}
