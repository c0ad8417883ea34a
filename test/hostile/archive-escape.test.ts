// Issue 14, item 1: archives whose links chain out of the image folder. Each case runs a whole ingest
// from a local archive next to canary files, and asserts that it is refused with one sentence and that
// nothing outside the image's own staging folder was created, changed or deleted.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import got from 'got';
import { parseConfigText } from '../../src/config/parse.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { arArchive } from '../support/fake-debian-packages.ts';
import { buildStoredZip, buildTar, snapshotTree } from '../support/ingest-archives.ts';
import { masterIso, writeTree, xorrisoMissing } from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-hostile-escape-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;

// The image's own paths under data/images: its staging and version folders, lock, failure record and link.
const ownPaths = (path: string): boolean => /^data\/images\/(\.versions\/demo-|\.demo\.|demo$)/.test(path);

/**
 * Ingests `archive` with data/ four levels below the folder that holds the canaries, so that
 * `../../../..` from the staging folder (data/images/.versions/<version>.partial) is that folder.
 */
async function ingestNextToCanaries(name: string, archive: Buffer | ((path: string) => Promise<void>)): Promise<{ base: string; error: IngestError }> {
  const base = join(root, `case-${++counter}`);
  await mkdir(join(base, 'victim'), { recursive: true });
  await writeFile(join(base, 'victim', 'canary.txt'), 'canary: must stay as it is');
  await writeFile(join(base, 'victim', 'delme.txt'), 'must not be deleted');
  await mkdir(join(base, 'data', 'ipxe'), { recursive: true });
  await writeFile(join(base, 'data', 'ipxe', 'undionly.kpxe'), 'the binary every PC runs');
  await mkdir(join(base, 'data', 'images', '.versions'), { recursive: true });
  const archivePath = join(base, name);
  if (Buffer.isBuffer(archive)) await writeFile(archivePath, archive);
  else await archive(archivePath);

  const dataDir = join(base, 'data');
  const text = `images:\n  - id: demo\n    source: {path: ${JSON.stringify(archivePath)}}\n    extract: [linux]\n    boot: {kernel: linux/payload}\n`;
  const image = parseConfigText(text, 'images.yaml', { dataDir }).images[0]!;
  const before = await snapshotTree(base, ownPaths);
  const outcome = ingestImage(image, { dataDir, http: got, info: () => {}, warn: () => {} });
  await outcome.catch(() => undefined);
  // Checked first: on the code before the fix, the archive installs and the damage is what shows.
  assert.deepEqual(await snapshotTree(base, ownPaths), before, 'nothing outside the image folder was created, changed or deleted');
  const error = await rejectionOf(outcome, IngestError);
  assert.deepEqual((await readdir(join(dataDir, 'images', '.versions'))).filter((entry) => entry.startsWith('demo-')), [], 'the staging folder is removed');
  return { base, error };
}

function assertRefused(error: IngestError, archive: string, entry: RegExp): void {
  assert.equal(error.code, IngestErrorCode.HostileEntry, error.message);
  assert.match(error.message, new RegExp(`^${archive.replace('.', '\\.')} has .*nothing was installed — use an archive from a trusted source$`));
  assert.match(error.message, entry, 'the message names the entry');
}

// The chain from the issue: `esc` looks like it stays inside when judged alone (l/../../../..), but `l`
// already climbs to the image root, so esc/ is the folder four levels above it.
const ISSUE_CHAIN_TAR = [
  { name: 'linux/payload', content: 'attacker bytes' },
  { name: 'linux/a/b/c/l', symlink: '../../../..' },
  { name: 'linux/a/b/c/esc', symlink: 'l/../../../..' },
  { name: 'linux/a/b/c/esc/victim/canary.txt', hardlink: 'linux/payload' },
  { name: 'linux/a/b/c/esc/victim/delme.txt', symlink: 'x' },
];

describe('archives whose links chain out of the image folder', () => {
  test('the tar chain of the issue (symlink through symlink, then a hard link and a symlink through both) is refused', async () => {
    const { error } = await ingestNextToCanaries('hostile.tar', await buildTar(ISSUE_CHAIN_TAR));
    assertRefused(error, 'hostile.tar', /linux\/a\/b\/c\//);
  });

  test('the zip chain of the issue is refused', async () => {
    const zip = buildStoredZip([
      { name: 'linux/payload', content: 'attacker bytes' },
      { name: 'linux/a/b/c/l', content: '../../../..', symlink: true },
      { name: 'linux/a/b/c/esc', content: 'l/../../../..', symlink: true },
      { name: 'linux/a/b/c/esc/victim/delme.txt', content: 'x', symlink: true },
    ]);
    const { error } = await ingestNextToCanaries('hostile.zip', zip);
    assertRefused(error, 'hostile.zip', /linux\/a\/b\/c\//);
  });

  test("the tar chain of the issue inside a Debian package's data.tar is refused as the bare tar is", async () => {
    const deb = arArchive([
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', content: gzipSync(await buildTar([{ name: './control', content: 'Package: x\n' }])) },
      { name: 'data.tar.gz', content: gzipSync(await buildTar(ISSUE_CHAIN_TAR)) },
    ]);
    const { error } = await ingestNextToCanaries('hostile.deb', deb);
    assertRefused(error, 'hostile.deb', /linux\/a\/b\/c\//);
  });

  test('a symlink whose target runs through another link of the archive and out is refused, in either order', async () => {
    for (const entries of [
      [{ name: 'linux/payload', content: 'k' }, { name: 'linux/x/s1', symlink: '../..' }, { name: 'linux/s2', symlink: 'x/s1/..' }],
      [{ name: 'linux/payload', content: 'k' }, { name: 'linux/s2', symlink: 'x/s1/..' }, { name: 'linux/x/s1', symlink: '../..' }],
    ]) {
      const { error } = await ingestNextToCanaries('chain.tar', await buildTar(entries));
      assertRefused(error, 'chain.tar', /linux\/s2/);
    }
  });

  test('a loop of symlinks is refused instead of being followed forever', async () => {
    const { error } = await ingestNextToCanaries(
      'loop.tar',
      await buildTar([{ name: 'linux/payload', content: 'k' }, { name: 'linux/a', symlink: 'b' }, { name: 'linux/b', symlink: 'a' }]),
    );
    assertRefused(error, 'loop.tar', /linux\/(a|b)/);
  });

  test('an entry whose path runs through an earlier link is refused, even when the link stays inside', async () => {
    for (const last of [
      { name: 'linux/a/up/linux/payload', symlink: 'x' },
      { name: 'linux/a/up/linux/evil', hardlink: 'linux/payload' },
      { name: 'linux/a/up/linux/evil', content: 'written through a link' },
    ]) {
      const { error } = await ingestNextToCanaries(
        'through.tar',
        await buildTar([{ name: 'linux/payload', content: 'k' }, { name: 'linux/a/up', symlink: '../..' }, last]),
      );
      assertRefused(error, 'through.tar', /linux\/a\/up\/linux\//);
    }
  });

  test('a hard link must name a regular file of the same archive', async () => {
    for (const target of ['linux/a/up', 'linux/nowhere', 'victim/canary.txt']) {
      const { error } = await ingestNextToCanaries(
        'hard.tar',
        await buildTar([{ name: 'linux/payload', content: 'k' }, { name: 'linux/a/up', symlink: '../..' }, { name: 'linux/h', hardlink: target }]),
      );
      assertRefused(error, 'hard.tar', /linux\/h/);
    }
  });

  test('an ISO whose Rock Ridge symlinks chain out of the image folder is refused', async (t) => {
    const skip = skipOrFail('archive-escape-iso', await xorrisoMissing());
    if (skip) return t.skip(skip);
    const { error } = await ingestNextToCanaries('hostile.iso', async (path) => {
      const tree = join(root, `iso-tree-${counter}`);
      await writeTree(tree, {
        'linux/payload': 'attacker bytes',
        'linux/a/b/c/l': { symlink: '../../../..' },
        'linux/a/b/c/esc': { symlink: 'l/../../../..' },
      });
      await masterIso(tree, path, ['-rockridge', 'on']);
    });
    assertRefused(error, 'hostile.iso', /linux\/a\/b\/c\/esc/);
  });
});
