// Issue 14, item 10: small archives that fill the disk. A gzip of zeros shrinks about 1000:1, so a
// few hundred KB can hold gigabytes. Extraction stops at the image's cap (source.max_extracted_size),
// refuses what the archive declares before writing it, and a full disk is reported as "disk full" with
// the folder, the free space and the need — never as a damaged archive. A failed ingest leaves the
// installed version serving and removes its staging folder.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import got from 'got';
import tarStream from 'tar-stream';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { buildTar, hasCommand, runIn } from '../support/ingest-archives.ts';
import { startHttpFixture } from '../support/http-fixture-server.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const run = promisify(execFile);
const MiB = 1024 ** 2;
const root = await mkdtemp(join(tmpdir(), 'bootstation-hostile-disk-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;

/** A tar.gz of files of zeros, streamed (nothing held whole): tiny on disk, `sizes` bytes when extracted. */
async function zeroBomb(path: string, sizes: number[]): Promise<void> {
  const pack = tarStream.pack();
  const written = pipeline(pack, createGzip({ level: 9 }), createWriteStream(path));
  await new Promise<void>((resolve) => pack.entry({ name: 'boot/vmlinuz' }, 'kernel', () => resolve()));
  const zeros = Buffer.alloc(MiB);
  for (const [i, size] of sizes.entries()) {
    const entry = pack.entry({ name: `data/zeros-${i}.img`, size });
    for (let left = size; left > 0; left -= MiB) {
      if (!entry.write(zeros.subarray(0, Math.min(MiB, left)))) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => entry.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  await written;
}

function imageOf(dataDir: string, source: string): ImageConfig {
  const text = `images:\n  - id: demo\n    source: ${source}\n    extract: [data]\n    boot: {kernel: boot/vmlinuz}\n`;
  return parseConfigText(text, 'images.yaml', { dataDir }).images[0]!;
}

const quiet = (dataDir: string) => ({ dataDir, http: got, info: () => {}, warn: () => {} });

/** Installs a good version first, so each case can show that a failed ingest leaves it serving. */
async function installGoodVersion(dataDir: string): Promise<string> {
  const good = join(root, `good-${++counter}.tar`);
  await writeFile(good, await buildTar([{ name: 'boot/vmlinuz', content: 'kernel v1' }]));
  await ingestImage(imageOf(dataDir, `{path: ${JSON.stringify(good)}}`), quiet(dataDir));
  return readlink(join(dataDir, 'images', 'demo'));
}

async function assertPreviousVersionServes(dataDir: string, link: string): Promise<void> {
  assert.equal(await readlink(join(dataDir, 'images', 'demo')), link, 'data/images/demo still points at the installed version');
  assert.equal(await readFile(join(dataDir, 'images', 'demo', 'boot', 'vmlinuz'), 'utf8'), 'kernel v1');
  assert.deepEqual(await readdir(join(dataDir, 'images', '.versions')), [link.replace('.versions/', '')], 'the staging folder is removed');
}

/** Runs `body` with a fresh tmpfs of `size` mounted (root only; the test is skipped with the reason otherwise), unmounted after. */
async function withTmpfs(t: TestContext, size: string, body: (mount: string) => Promise<void>): Promise<void> {
  if (process.getuid?.() !== 0) return void t.skip(skipOrFail('archive-disk-tmpfs', 'mounting a small tmpfs needs root'));
  const mount = join(root, `tmpfs-${++counter}`);
  await mkdir(mount);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]);
  } catch (error) {
    return void t.skip(skipOrFail('archive-disk-tmpfs', `mount -t tmpfs failed here: ${(error as Error).message.split('\n')[0]}`));
  }
  try {
    await body(mount);
  } finally {
    await run('umount', [mount]);
  }
}

/** Lowest free space seen on `path`'s file system while `work` runs (sampled every 2 ms): the peak disk use. */
async function lowestFreeDuring<T>(path: string, work: Promise<T>): Promise<{ lowest: number; outcome: PromiseSettledResult<T> }> {
  let lowest = Number.POSITIVE_INFINITY;
  let done = false;
  const settled = Promise.allSettled([work]).then(([outcome]) => {
    done = true;
    return outcome!;
  });
  while (!done) {
    const stats = await statfs(path);
    lowest = Math.min(lowest, stats.bavail * stats.bsize);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { lowest, outcome: await settled };
}

describe('archives that would fill the disk', () => {
  test('a gzip bomb (240 MiB of zeros in a few hundred KB) stops at the image cap, and the disk never holds more than the cap', async (t) => {
    await withTmpfs(t, '512m', async (mount) => {
      const dataDir = join(mount, 'data');
      const link = await installGoodVersion(dataDir);
      const bomb = join(root, `bomb-${++counter}.tar.gz`);
      await zeroBomb(bomb, Array.from({ length: 10 }, () => 24 * MiB));
      const compressed = (await stat(bomb)).size;
      assert.ok(compressed < 1 * MiB, `the bomb is ${compressed} bytes`);

      const before = await statfs(mount);
      const started = performance.now();
      const { lowest, outcome } = await lowestFreeDuring(mount, ingestImage(imageOf(dataDir, `{path: ${JSON.stringify(bomb)}, max_extracted_size: 64 MiB}`), quiet(dataDir)));
      const elapsed = performance.now() - started;
      const peak = before.bavail * before.bsize - lowest;
      t.diagnostic(`bomb ${compressed} bytes compressed; stopped after ${elapsed.toFixed(0)} ms; peak disk use ${(peak / MiB).toFixed(1)} MiB`);
      assert.equal(outcome.status, 'rejected', 'the bomb is refused');
      const error = (outcome as PromiseRejectedResult).reason as IngestError;
      assert.ok(error instanceof IngestError, String(error));
      assert.equal(error.code, IngestErrorCode.TooLarge, error.message);
      assert.match(error.message, /^bomb-\d+\.tar\.gz declares at least 72\.0 MiB of files to extract, over the 64\.0 MiB cap of source\.max_extracted_size; nothing was installed — /);
      // The two files that fit (48 MiB), plus a little for the file system's own blocks.
      assert.ok(peak <= 64 * MiB, `peak disk use ${peak} bytes`);
      await assertPreviousVersionServes(dataDir, link);
    });
  });

  test('a tar.gz of 700 bytes whose header declares 20 GiB is refused under the default cap before anything is written', async () => {
    const dataDir = join(root, `data-${++counter}`);
    const link = await installGoodVersion(dataDir);
    // A real header, its size field rewritten in base 256 (how tar writes sizes of 8 GiB and more) and its checksum fixed.
    const tar = await buildTar([{ name: 'boot/vmlinuz', content: 'kernel' }, { name: 'data/huge.img', content: 'x' }]);
    const header = tar.subarray(1024, 1536);
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header.writeBigUInt64BE(20n * 1024n ** 3n, 128);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((total, byte) => total + byte, 0);
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const path = join(root, `declared-${counter}.tar.gz`);
    await writeFile(path, gzipSync(tar));
    assert.ok((await stat(path)).size < 1024);

    const error = await rejectionOf(ingestImage(imageOf(dataDir, `{path: ${JSON.stringify(path)}}`), quiet(dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.TooLarge, error.message);
    assert.match(error.message, /declares at least 20\.0 GiB of files to extract, over the 16\.0 GiB cap of source\.max_extracted_size/);
    await assertPreviousVersionServes(dataDir, link);
  });

  test('a full disk while a tar.gz streams is "disk full" with the folder and sizes, not a damaged archive', async (t) => {
    await withTmpfs(t, '64m', async (mount) => {
      const dataDir = join(mount, 'data');
      const link = await installGoodVersion(dataDir);
      const bomb = join(root, `fill-${++counter}.tar.gz`);
      await zeroBomb(bomb, Array.from({ length: 8 }, () => 32 * MiB));
      const freeBefore = (await statfs(mount)).bavail;

      const error = await rejectionOf(ingestImage(imageOf(dataDir, `{path: ${JSON.stringify(bomb)}}`), quiet(dataDir)), IngestError);
      assert.equal(error.code, IngestErrorCode.NoSpace, error.message);
      t.diagnostic(error.message);
      assert.match(error.message, new RegExp(`^disk full: ${dataDir}/images has \\d+(\\.\\d+)? MiB free, demo needs at least \\d+(\\.\\d+)? MiB; free some space or use a --data directory on a larger disk$`));
      await assertPreviousVersionServes(dataDir, link);
      // All of it but the block of the failure record (data/images/.demo.failed.json).
      assert.ok((await statfs(mount)).bavail >= freeBefore - 1, 'the space is given back');
    });
  });

  test('a zip that declares more than the free space is "disk full" before a byte is written', async (t) => {
    const skip = skipOrFail('archive-disk-zip', (await hasCommand('zip')) ? undefined : 'the zip command is absent (Debian package: zip)');
    if (skip) return t.skip(skip);
    await withTmpfs(t, '64m', async (mount) => {
      const dataDir = join(mount, 'data');
      const link = await installGoodVersion(dataDir);
      const src = join(root, `zip-src-${++counter}`);
      await mkdir(join(src, 'boot'), { recursive: true });
      await mkdir(join(src, 'data'), { recursive: true });
      await writeFile(join(src, 'boot', 'vmlinuz'), 'kernel');
      await run('truncate', ['-s', '100M', join(src, 'data', 'zeros.img')]);
      const zip = join(root, `big-${counter}.zip`);
      await runIn(src, 'zip', ['-q', '-9', '-r', zip, '.']);
      const free = await statfs(mount);

      const { lowest, outcome } = await lowestFreeDuring(mount, ingestImage(imageOf(dataDir, `{path: ${JSON.stringify(zip)}}`), quiet(dataDir)));
      assert.equal(outcome.status, 'rejected');
      const error = (outcome as PromiseRejectedResult).reason as IngestError;
      assert.equal(error.code, IngestErrorCode.NoSpace, error.message);
      assert.match(error.message, /^disk full: \S+\/data\/images has \d+(\.\d+)? MiB free, demo needs about 100 MiB; free some space or use a --data directory on a larger disk$/);
      assert.ok(free.bavail * free.bsize - lowest < 1 * MiB, 'nothing big was written');
      await assertPreviousVersionServes(dataDir, link);
    });
  });

  test('a download without Content-Length that fills the disk is "disk full", not a network error', async (t) => {
    await withTmpfs(t, '16m', async (mount) => {
      const dataDir = join(mount, 'data');
      const zeros = Buffer.alloc(MiB);
      const server = await startHttpFixture((_request, response) => {
        // Chunked: the size is not known before the disk is full.
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const more = (): void => {
          while (sent < 64) {
            sent++;
            if (!response.write(zeros)) return void response.once('drain', more);
          }
          response.end();
        };
        more();
      });
      try {
        const image = imageOf(dataDir, `{url: "${server.url('/big.iso')}", insecure: true}`);
        const error = await rejectionOf(ingestImage(image, quiet(dataDir)), IngestError);
        assert.equal(error.code, IngestErrorCode.NoSpace, error.message);
        assert.match(error.message, new RegExp(`^disk full: ${dataDir}/cache has \\S+ \\S+ free, demo needs at least \\d+(\\.\\d+)? MiB; free some space or use a --data directory on a larger disk$`));
      } finally {
        await server.close();
      }
    });
  });
});
