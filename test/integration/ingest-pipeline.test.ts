import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import got from 'got';
import { findMissingBootFiles } from '../../src/boot/image-files.ts';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { ingestImage, type IngestContext } from '../../src/ingest/ingest-image.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { imageLayout } from '../../src/files/data-dir.ts';
import { readFailure } from '../../src/ingest/install.ts';
import { buildStoredZip, buildTar, writeArchiveTree } from '../support/ingest-archives.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { masterIso, xorrisoMissing } from '../support/iso-fixtures.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-pipeline-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;

const V1 = await buildTar([{ name: 'boot/vmlinuz', content: 'kernel v1' }, { name: 'boot/initrd.img', content: 'initrd v1' }, { name: 'extra/notes.txt', content: 'n' }]);
const V2 = await buildTar([{ name: 'boot/vmlinuz', content: 'kernel v2' }, { name: 'boot/initrd.img', content: 'initrd v2' }]);
const sha = (bytes: Uint8Array, algorithm = 'sha256'): string => createHash(algorithm).update(bytes).digest('hex');

const files: Record<string, Buffer> = { '/v1.tar': V1, '/v2.tar': V2 };
const server = await startHttpFixture((request, response) => {
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  if (path === '/SHA256SUMS') return void response.end(`${sha(V1)}  v1.tar\n${sha(V2)} *v2.tar\n`);
  const body = files[path];
  if (!body) return void response.writeHead(404).end();
  sendBody(request, response, body, { ranges: true });
});
after(() => server.close());

function config(source: string, extra = ''): { image: ImageConfig; dataDir: string } {
  const dataDir = join(root, `data-${++counter}`);
  const text = `images:\n  - id: demo\n    source: ${source}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]${extra}}\n`;
  return { image: parseConfigText(text, 'images.yaml', { dataDir }).images[0]!, dataDir };
}

function context(dataDir: string, extra: Partial<IngestContext> = {}): IngestContext & { lines: string[] } {
  const lines: string[] = [];
  return { dataDir, http: got, info: (l) => lines.push(`info: ${l}`), warn: (l) => lines.push(`warn: ${l}`), sleep: async () => {}, lines, ...extra };
}

const served = (dataDir: string, path: string): Promise<string> => readFile(join(dataDir, 'images', 'demo', path), 'utf8');

const failure = (promise: Promise<unknown>): Promise<IngestError> => rejectionOf(promise, IngestError);

describe('ingest pipeline', () => {
  test('installs behind a symlink with a manifest; a second run does nothing; --force redoes it', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`);
    const ctx = context(dataDir);
    const first = await ingestImage(image, ctx);
    assert.equal(first.status, 'installed');
    const link = join(dataDir, 'images', 'demo');
    assert.ok((await lstat(link)).isSymbolicLink(), 'data/images/demo is a symlink');
    assert.match(await readlink(link), /^\.versions\/demo-\d{8}T\d{9}Z-\d+$/);
    assert.equal(await served(dataDir, 'boot/vmlinuz'), 'kernel v1');
    const manifest = JSON.parse(await served(dataDir, '.manifest.json'));
    assert.equal(manifest.archiveVerified, true);
    assert.equal(manifest.fingerprint.checksum, `sha256:${sha(V1)}`);
    assert.deepEqual(manifest.files, [
      { path: 'boot/initrd.img', size: 9, sha256: sha(Buffer.from('initrd v1')) },
      { path: 'boot/vmlinuz', size: 9, sha256: sha(Buffer.from('kernel v1')) },
    ]);
    assert.deepEqual(await findMissingBootFiles({ images: [image] } as never), new Map(), 'the menu sees the image as ready');

    const requests = server.requests.length;
    const second = await ingestImage(image, ctx);
    assert.equal(second.status, 'up-to-date');
    assert.equal(server.requests.length, requests, 'an unchanged image makes no request');

    const forced = await ingestImage(image, { ...ctx, force: true });
    assert.equal(forced.status, 'installed');
    assert.equal(server.requests.length, requests, '--force reuses the verified download in the cache');
    const versions = (await readdir(join(dataDir, 'images', '.versions'))).sort();
    assert.equal(versions.length, 2, 'the old version is kept for a rollback');
    assert.equal(versions[1], (await readlink(link)).slice('.versions/'.length), 'the link names the newest version');
    await ingestImage(image, { ...ctx, force: true, keepVersions: 0 });
    assert.deepEqual(await readdir(join(dataDir, 'images', '.versions')), [(await readlink(link)).slice('.versions/'.length)], 'keep_versions 0 removes the old ones after the switch');
  });

  test('a checksum mismatch installs nothing and the old version keeps serving', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`);
    await ingestImage(image, context(dataDir));
    const before = await served(dataDir, 'boot/vmlinuz');
    const target = await readlink(join(dataDir, 'images', 'demo'));

    const bad = parseConfigText(
      `images:\n  - id: demo\n    source: {url: "${server.url('/v2.tar')}", sha256: "${'0'.repeat(64)}"}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]}\n`,
      'images.yaml',
      { dataDir },
    ).images[0]!;
    const error = await failure(ingestImage(bad, context(dataDir)));
    assert.equal(error.code, IngestErrorCode.ChecksumMismatch);
    assert.match(error.message, new RegExp(`has sha256 ${sha(V2)}, but ${'0'.repeat(64)} was expected`));
    assert.equal(await served(dataDir, 'boot/vmlinuz'), before, 'the served file is unchanged');
    assert.equal(await readlink(join(dataDir, 'images', 'demo')), target);
    assert.deepEqual(await readdir(join(dataDir, 'images', '.versions')), [target.slice('.versions/'.length)], 'no staging folder left');
    assert.equal((await readFailure(imageLayout(dataDir, 'demo')))?.code, IngestErrorCode.ChecksumMismatch, 'the failure is recorded for `images`');
  });

  test('a boot file missing from a new archive leaves the old version serving', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`);
    await ingestImage(image, context(dataDir));
    const other = config(`{url: "${server.url('/v2.tar')}", sha256: ${sha(V2)}}`, ', firmware: [bios]').image;
    const missing = { ...other, dir: image.dir, initrds: ['boot/absent.img'] };
    const error = await failure(ingestImage(missing, context(dataDir)));
    assert.equal(error.code, IngestErrorCode.MissingFiles);
    assert.equal(await served(dataDir, 'boot/vmlinuz'), 'kernel v1');
  });

  test('leftovers of an interrupted ingest are removed on the next run', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`);
    const versions = join(dataDir, 'images', '.versions');
    await mkdir(join(versions, 'demo-20260101T000000000Z-1.partial', 'boot'), { recursive: true });
    await writeFile(join(versions, 'demo-20260101T000000000Z-1.partial', 'boot', 'vmlinuz'), 'half');
    await symlink('.versions/demo-20260101T000000000Z-1', join(dataDir, 'images', '.demo.link-demo-20260101T000000000Z-1'));
    await mkdir(join(versions, 'demo-other-20260101T000000000Z-1'), { recursive: true });
    const ctx = context(dataDir);
    await ingestImage(image, ctx);
    const left = await readdir(versions);
    assert.equal(left.filter((n) => n.startsWith('demo-2')).length, 1, left.join(', '));
    assert.ok(left.includes('demo-other-20260101T000000000Z-1'), 'another image\'s versions are not touched');
    assert.ok(!(await readdir(join(dataDir, 'images'))).some((n) => n.startsWith('.demo.link-')));
    assert.ok(ctx.lines.some((l) => /removed leftovers of an interrupted ingest/.test(l)));
  });

  test('a second ingest of the same image while one runs is refused; a lock left by a dead process is taken over', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`);
    await mkdir(join(dataDir, 'images'), { recursive: true });
    const lock = join(dataDir, 'images', '.demo.lock');
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(lock, String(sleeper.pid));
      const error = await failure(ingestImage(image, context(dataDir)));
      assert.equal(error.code, IngestErrorCode.Busy);
      assert.equal(error.message, `another ingest of demo is running (pid ${sleeper.pid}); wait for it, or delete ${lock} if that process is not bootstation`);
    } finally {
      sleeper.kill();
    }
    await new Promise((resolve) => sleeper.once('exit', resolve));
    assert.equal((await ingestImage(image, context(dataDir))).status, 'installed');
    await assert.rejects(readFile(lock), 'the lock is released');
  });

  test('a checksum list names the archive; a list that does not is a clear error', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v2.tar')}", checksums: "${server.url('/SHA256SUMS')}"}`);
    const outcome = await ingestImage(image, context(dataDir));
    assert.equal(outcome.manifest.archiveVerified, true);
    assert.deepEqual(outcome.manifest.checksumSource, { listUrl: server.url('/SHA256SUMS') });
    files['/v3.tar'] = V2;
    const unlisted = config(`{url: "${server.url('/v3.tar')}", checksums: "${server.url('/SHA256SUMS')}"}`);
    const error = await failure(ingestImage(unlisted.image, context(unlisted.dataDir)));
    assert.equal(error.code, IngestErrorCode.ChecksumNotListed);
    assert.match(error.message, /does not name v3\.tar; check source\.checksums/);
  });

  test('a local archive with md5; insecure sources are warned about at every ingest', async () => {
    const path = join(root, 'local.tar');
    await writeFile(path, V1);
    const local = config(`{path: ${path}, md5: ${sha(V1, 'md5')}}`);
    assert.equal((await ingestImage(local.image, context(local.dataDir))).status, 'installed');
    assert.equal(await served(local.dataDir, 'boot/initrd.img'), 'initrd v1');

    const insecure = config(`{url: "${server.url('/v1.tar')}", insecure: true}`);
    for (const expected of ['installed', 'up-to-date']) {
      const ctx = context(insecure.dataDir);
      assert.equal((await ingestImage(insecure.image, ctx)).status, expected);
      assert.ok(ctx.lines.some((l) => /^warn: the source of demo is not verified \(insecure: true\)/.test(l)), ctx.lines.join('\n'));
    }
    const requests = server.requests.length;
    await ingestImage(insecure.image, { ...context(insecure.dataDir), force: true });
    assert.equal(server.requests.length, requests + 1, '--force downloads an unchecked source again instead of trusting the cache');
  });

  test('${iso-url} keeps the archive in the image folder', async () => {
    const { image, dataDir } = config(`{url: "${server.url('/v1.tar')}", sha256: ${sha(V1)}}`, ', args: "url=${iso-url}"');
    const outcome = await ingestImage(image, context(dataDir));
    assert.deepEqual(await readFile(join(dataDir, 'images', 'demo', 'v1.tar')), V1);
    assert.ok(outcome.manifest.files.some((f) => f.path === 'v1.tar' && f.sha256 === sha(V1)));
  });

  test('fetch: files reads a remote zip through its central directory', async () => {
    const zip = buildStoredZip([
      { name: 'boot/vmlinuz', content: 'zip kernel' },
      { name: 'boot/initrd.img', content: 'zip initrd' },
      { name: 'filler.bin', content: 'f'.repeat(2 * 1024 * 1024) },
    ]);
    let bodyBytes = 0;
    const ranged = await startHttpFixture((request, response) => {
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
      bodyBytes += range ? Math.min(Number(range[2] || zip.length - 1), zip.length - 1) - Number(range[1]) + 1 : zip.length;
      sendBody(request, response, zip, { ranges: true });
    });
    try {
      const { image, dataDir } = config(`{url: "${ranged.url('/remote.zip')}", sha256: ${sha(zip)}, fetch: files}`);
      const outcome = await ingestImage(image, context(dataDir));
      assert.equal(outcome.manifest.archive.type, 'zip');
      assert.equal(await served(dataDir, 'boot/initrd.img'), 'zip initrd');
      assert.ok(bodyBytes < zip.length / 2, `only a fraction of the ${zip.length}-byte zip may be fetched, got ${bodyBytes}`);
    } finally {
      await ranged.close();
    }
  });

  test('fetch: files reads only the wanted files of a remote ISO; without Range support it downloads the whole', async (t) => {
    const skip = skipOrFail('ingest-pipeline-remote-iso', await xorrisoMissing());
    if (skip) return t.skip(skip);
    const src = join(root, 'iso-src');
    await writeArchiveTree(src, { 'boot/vmlinuz': 'iso kernel', 'boot/initrd.img': 'iso initrd', 'big/filler.bin': Buffer.alloc(4 * 1024 * 1024, 7) });
    const iso = join(root, 'remote.iso');
    await masterIso(src, iso, ['-rockridge', 'on']);
    const bytes = await readFile(iso);
    let bodyBytes = 0;
    const ranged = await startHttpFixture((request, response) => {
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
      const last = range?.[2] ? Number(range[2]) : bytes.length - 1;
      bodyBytes += range ? last - Number(range[1]) + 1 : bytes.length;
      sendBody(request, response, bytes, { ranges: !request.url?.includes('plain') });
    });
    try {
      const { image, dataDir } = config(`{url: "${ranged.url('/remote.iso')}", sha256: ${sha(bytes)}, fetch: files}`);
      const ctx = context(dataDir);
      const outcome = await ingestImage(image, ctx);
      assert.equal(await served(dataDir, 'boot/vmlinuz'), 'iso kernel');
      assert.equal(outcome.manifest.archiveVerified, false);
      assert.match(outcome.manifest.unverifiedReason ?? '', /Range requests/);
      assert.ok(bodyBytes < bytes.length / 4, `only a fraction of the ${bytes.length}-byte ISO may be fetched, got ${bodyBytes}`);
      assert.deepEqual(await readdir(join(dataDir, 'cache')).catch(() => []), [], 'nothing is downloaded into the cache');

      const plain = config(`{url: "${ranged.url('/plain/remote.iso')}", sha256: ${sha(bytes)}, fetch: files}`);
      const plainCtx = context(plain.dataDir);
      const full = await ingestImage(plain.image, plainCtx);
      assert.equal(full.manifest.archiveVerified, true);
      assert.ok(plainCtx.lines.some((l) => /does not support Range requests, which fetch: files needs; downloading it whole/.test(l)), plainCtx.lines.join('\n'));
    } finally {
      await ranged.close();
    }
  });
});
