// A shutdown aborts an ingest wherever it is: the wait before a download retry, a stalled download, release index
// or checksums list, the copy of a big tar or ISO entry, the reading past a big tar entry nobody wants, the step
// between two entries. Each stops within a moment (not at a timeout or at the end of the file), rejects with the
// signal's reason, and leaves neither a staging folder, a lock nor a recorded failure behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import got from 'got';
import type { ServerResponse } from 'node:http';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { imageLayout } from '../../src/files/data-dir.ts';
import { openForReading } from '../../src/files/boot-files.ts';
import { openArchive, type ArchiveSource } from '../../src/ingest/archives.ts';
import { downloadToCache } from '../../src/ingest/download.ts';
import { extractArchive, type ExtractPlan } from '../../src/ingest/extract.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { httpIndexFetcher } from '../../src/ingest/releases/fetch-index.ts';
import { bigTarGzMembers } from '../support/big-archives.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { arArchive } from '../support/fake-debian-packages.ts';
import { buildStoredZip, buildTar } from '../support/ingest-archives.ts';
import { both32, buildRawIso, memorySource, parentRecord, selfRecord } from '../support/iso-fixtures.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
// Far below every timeout of a download (15 s connect, 30 s response, 60 s idle) and a retry's wait.
const PROMPTLY_MS = 1500;

const root = await mkdtemp(join(tmpdir(), 'bootstation-ingest-abort-'));
after(() => rm(root, { recursive: true, force: true }));
let counter = 0;
const fresh = async (name: string): Promise<string> => {
  const dir = join(root, `${name}-${++counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

const half = Buffer.alloc(64 * 1024, 7);
const whole = Buffer.concat([half, Buffer.alloc(64 * 1024, 9)]);
// Responses the fixture left hanging, ended when the file's tests are done.
const hanging = new Set<ServerResponse>();
const fixture = await startHttpFixture((request, response, previous) => {
  const path = new URL(request.url ?? '/', 'http://fixture').pathname;
  hanging.add(response);
  response.on('close', () => hanging.delete(response));
  if (path === '/busy.iso') {
    response.writeHead(503, { 'retry-after': '100', 'content-length': '0' }).end();
  } else if (path === '/stall-headers') {
    // Nothing at all: the request waits for headers.
  } else if (path === '/stall.iso' && previous === 0) {
    // The headers promise the whole file; half of it comes, then nothing.
    response.writeHead(200, { 'content-length': String(whole.length) });
    response.write(half);
  } else if (path === '/stall.iso') {
    sendBody(request, response, whole, { ranges: true });
  } else {
    // An index or checksums list: headers and a first line, then nothing.
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.write('# the rest never comes\n');
  }
});
after(async () => {
  for (const response of hanging) response.destroy();
  await fixture.close();
});

/** Awaits a promise that must reject, and returns how long that took after `since` besides the error. */
async function rejection(promise: Promise<unknown>, since: () => number): Promise<{ error: unknown; afterAbortMs: number }> {
  try {
    await promise;
  } catch (error) {
    return { error, afterAbortMs: Date.now() - since() };
  }
  return assert.fail('it resolved instead of stopping at the abort');
}

/** A controller whose abort time is kept. */
function shutdown(): { controller: AbortController; abort: () => void; abortedAt: () => number } {
  const controller = new AbortController();
  let at = Number.NaN;
  return {
    controller,
    abort: () => {
      if (controller.signal.aborted) return;
      at = Date.now();
      controller.abort();
    },
    abortedAt: () => at,
  };
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};
const requestsFor = (path: string): number => fixture.requests.filter((request) => request.path === path).length;

describe('a download stops at the abort', () => {
  test('while it waits out a Retry-After of 100 s: the wait ends, and no further request is made', async () => {
    const { controller, abort, abortedAt } = shutdown();
    const lines: string[] = [];
    const download = downloadToCache({
      // The plain client: the download passes the signal to each request itself.
      http: got,
      url: fixture.url('/busy.iso'),
      cacheDir: await fresh('cache'),
      fileName: 'busy.iso',
      signal: controller.signal,
      log: (line) => {
        lines.push(line);
        if (/retry 1 of 5 in 100 s/.test(line)) abort();
      },
    });
    const { error, afterAbortMs } = await rejection(download, abortedAt);
    assert.equal(error, controller.signal.reason, `the abort's reason, not ${String(error)}; log: ${lines.join(' | ')}`);
    assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
    assert.equal(requestsFor('/busy.iso'), 1, 'not tried again');
  });

  test('when the body stalls half-way: the request ends, the .part keeps the half, and the next run resumes there', async () => {
    const { controller, abort, abortedAt } = shutdown();
    const cacheDir = await fresh('cache');
    const options = { http: got, url: fixture.url('/stall.iso'), cacheDir, fileName: 'stall.iso', log: () => {} };
    const download = downloadToCache({
      ...options,
      signal: controller.signal,
      progress: { update: (snapshot) => void (snapshot.received === half.length && abort()), done: () => {} },
    });
    const { error, afterAbortMs } = await rejection(download, abortedAt);
    assert.equal(error, controller.signal.reason, String(error));
    assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
    assert.equal((await stat(join(cacheDir, 'stall.iso.part'))).size, half.length);

    const lines: string[] = [];
    const resumed = await downloadToCache({ ...options, expected: { algorithm: 'sha256', value: createHash('sha256').update(whole).digest('hex') }, log: (line) => void lines.push(line) });
    assert.equal(resumed.size, whole.length);
    assert.ok(lines.some((line) => line.includes(`at byte ${half.length}`)), lines.join('\n'));
    assert.equal(fixture.requests.filter((request) => request.path === '/stall.iso').at(-1)?.range, `bytes=${half.length}-`);
  });
});

describe('a stalled release index or checksums list stops at the abort', () => {
  for (const path of ['/stall-headers', '/index/Release']) {
    test(`httpIndexFetcher, ${path === '/stall-headers' ? 'before the headers' : 'in the body'}`, async () => {
      const { controller, abort, abortedAt } = shutdown();
      const before = requestsFor(path);
      const fetching = httpIndexFetcher(got, { signal: controller.signal })(fixture.url(path), 1024 * 1024);
      await until(`the request for ${path}`, () => requestsFor(path) > before);
      abort();
      const { error, afterAbortMs } = await rejection(fetching, abortedAt);
      assert.equal(error, controller.signal.reason, String(error));
      assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(requestsFor(path), before + 1, 'not retried');
    });
  }

  const images: Array<[string, (dataDir: string) => ImageConfig, string]> = [
    [
      'the checksums list of a source',
      (dataDir) =>
        parseConfigText(
          `images:\n  - id: demo\n    source: {url: "${fixture.url('/sums/demo.tar')}", checksums: "${fixture.url('/sums/SHA256SUMS')}"}\n    boot: {kernel: boot/vmlinuz}\n`,
          'images.yaml',
          { dataDir },
        ).images[0]!,
      '/sums/SHA256SUMS',
    ],
    [
      'the release index of a recipe',
      (dataDir) => parseConfigText(`mirrors: {alpine: "${fixture.url('/alpine/')}"}\nimages:\n  - {id: demo, recipe: alpine, version: latest}\n`, 'images.yaml', { dataDir }).images[0]!,
      '/alpine/latest-stable/releases/x86_64/latest-releases.yaml',
    ],
  ];
  for (const [what, imageOf, path] of images) {
    test(`ingestImage, at ${what}: nothing recorded, the lock released`, async () => {
      const dataDir = await fresh('data');
      const { controller, abort, abortedAt } = shutdown();
      const before = requestsFor(path);
      const ingest = ingestImage(imageOf(dataDir), { dataDir, http: got, signal: controller.signal, info: () => {}, warn: () => {} });
      await until(`the request for ${path}`, () => requestsFor(path) > before);
      abort();
      const { error, afterAbortMs } = await rejection(ingest, abortedAt);
      assert.equal(error, controller.signal.reason, String(error));
      assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
      assert.deepEqual(await readdir(join(dataDir, 'images')), [], 'no failure record, no lock');
    });
  }
});

const PLAN: ExtractPlan = { archiveName: 'big.tar.gz', extract: ['boot/*'], renames: {}, required: ['boot/vmlinuz', 'boot/initrd.img'] };

/**
 * A tar.gz source held in memory, streamed one gzip member at a time with none read ahead; `pulled` counts the
 * members read by the latest stream (openArchive reads the first ones of a stream of its own), `onPull` hears of each.
 */
function memberSource(members: readonly Buffer[], onPull: (count: number) => void = () => {}): ArchiveSource & { pulled: () => number } {
  let pulled = 0;
  return {
    name: 'big.tar.gz',
    random: memorySource(Buffer.concat(members)),
    stream: () => {
      pulled = 0;
      return Readable.from(
        (function* () {
          for (const member of members) {
            onPull(++pulled);
            yield member;
          }
        })(),
        { highWaterMark: 1 },
      );
    },
    pulled: () => pulled,
  };
}

/** Extracts `source` into a fresh folder with the signal; resolves with the rejection, the folder and the bytes the progress saw. */
async function extractAborted(source: ArchiveSource, plan: ExtractPlan, abortWhen: (received: number, total: number | undefined, done: number) => boolean, onAbort?: () => void) {
  const { controller, abort, abortedAt } = shutdown();
  const dir = await fresh('extract');
  const reader = await openArchive(source);
  let most = 0;
  let done = 0;
  const progress = {
    update: ({ received, total }: { received: number; total?: number | undefined }) => {
      most = Math.max(most, received);
      if (abortWhen(received, total, done)) {
        abort();
        onAbort?.();
      }
    },
    done: () => {
      done++;
      if (abortWhen(0, undefined, done)) abort();
    },
  };
  const result = await rejection(extractArchive(reader, dir, { ...plan, signal: controller.signal }, () => {}, progress), abortedAt);
  assert.equal(result.error, controller.signal.reason, `the abort's reason, not ${String(result.error)}`);
  return { ...result, dir, most };
}

describe('an extraction stops at the abort', () => {
  test('within a chunk of a 1 GiB tar.gz entry', async () => {
    const members = bigTarGzMembers([{ name: 'boot/vmlinuz', content: 'kernel' }, { name: 'boot/initrd.img', zeros: GiB }]);
    const stopped = await extractAborted(memberSource(members), PLAN, (received, total) => total === GiB && received > 0);
    assert.ok(stopped.afterAbortMs < PROMPTLY_MS, `stopped ${stopped.afterAbortMs} ms after the abort`);
    assert.ok(stopped.most < 64 * MiB, `${stopped.most} bytes of 1 GiB were written`);
    assert.ok((await stat(join(stopped.dir, 'boot', 'initrd.img'))).size < 64 * MiB);
  });

  test('while reading past a 4 GiB tar entry nobody wants', async () => {
    const { controller, abort, abortedAt } = shutdown();
    const members = bigTarGzMembers([{ name: 'unwanted.squashfs', zeros: 4 * GiB }, { name: 'boot/vmlinuz', content: 'kernel' }, { name: 'boot/initrd.img', content: 'initrd' }]);
    // The abort comes while the extraction reads the eighth member (of 66): the unwanted entry's first ones are read
    // by then (gunzip and tar read a member or two ahead of the visitor).
    let extracting = false;
    const source = memberSource(members, (count) => void (extracting && count === 8 && abort()));
    const reader = await openArchive(source);
    extracting = true;
    const dir = await fresh('extract');
    const { error, afterAbortMs } = await rejection(extractArchive(reader, dir, { ...PLAN, signal: controller.signal }, () => {}), abortedAt);
    assert.equal(error, controller.signal.reason, String(error));
    assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
    assert.ok(source.pulled() < 8 + 6, `${source.pulled()} of ${members.length} members were read: the entry was read on to its end`);
  });

  test('while reading past a 7.5 GiB entry of a .deb\'s data.tar nobody wants', async () => {
    const { controller, abort, abortedAt } = shutdown();
    const data = Buffer.concat(bigTarGzMembers([{ name: './usr/share/unwanted', zeros: 7.5 * GiB }, { name: './boot/vmlinuz', content: 'kernel' }, { name: './boot/initrd.img', content: 'initrd' }], { level: 1 }));
    const deb = arArchive([
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', content: gzipSync(await buildTar([{ name: './control', content: 'Package: big\n' }])) },
      { name: 'data.tar.gz', content: data },
    ]);
    const memory = memorySource(deb);
    // The data member is read 1 MiB at a time (230 MiB of zeros each), on demand: the abort comes with the third read,
    // inside the unwanted entry (of about 35). Reading that entry to its end is about 18 s of gunzip on these machines.
    let extracting = false;
    let reads = 0;
    const read = (position: number, length: number): Promise<Uint8Array> => {
      if (extracting && length >= MiB && ++reads === 3) abort();
      return memory.read(position, length);
    };
    const reader = await openArchive({ name: 'big.deb', random: { size: memory.size, read } });
    assert.equal(reader.type, 'deb');
    extracting = true;
    const dir = await fresh('extract');
    const { error, afterAbortMs } = await rejection(extractArchive(reader, dir, { ...PLAN, signal: controller.signal }, () => {}), abortedAt);
    assert.equal(error, controller.signal.reason, String(error));
    assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
  });

  test('between two entries of a tar and of a zip', async () => {
    const entries = [
      { name: 'boot/vmlinuz', content: 'kernel' },
      { name: 'boot/initrd.img', content: 'initrd' },
      { name: 'boot/extra', content: 'extra' },
    ];
    const tar = await buildTar(entries);
    const zip = buildStoredZip(entries);
    for (const [name, bytes] of [['two.tar', tar], ['two.zip', zip]] as const) {
      const stopped = await extractAborted({ name, random: memorySource(bytes), stream: () => Readable.from([bytes]) }, { ...PLAN, archiveName: name }, (_received, _total, done) => done === 1);
      assert.deepEqual(await readdir(join(stopped.dir, 'boot')), ['vmlinuz'], `${name}: the entries after the abort were not written`);
    }
  });

  test('within a chunk of a 512 MiB file copied from a local ISO', async () => {
    // A hand-made image whose file's extent is a hole of the sparse image file: 512 MiB of zeros that cost no disk.
    const BLOCK = 2048;
    const size = 512 * MiB;
    const at = 20;
    const blocks = at + size / BLOCK + 1;
    const image = buildRawIso({
      blocks: at + 1,
      root: { block: 18, size: BLOCK },
      directories: { 18: [selfRecord(18), parentRecord(18), { name: 'VMLINUZ.;1', block: at, size: 6 }, { name: 'INITRD.;1', block: at + 1, size }] },
      bytes: { [at * BLOCK]: 'kernel' },
    });
    image.set(both32(blocks), 16 * BLOCK + 80);
    const path = join(await fresh('iso'), 'sparse.iso');
    await writeFile(path, image);
    await truncate(path, blocks * BLOCK);
    const file = await openForReading(path);
    try {
      const plan: ExtractPlan = { archiveName: 'sparse.iso', extract: ['*'], renames: {}, required: ['VMLINUZ', 'INITRD'] };
      const stopped = await extractAborted({ name: 'sparse.iso', random: file }, plan, (received, total) => total === size && received > 0);
      assert.ok(stopped.afterAbortMs < PROMPTLY_MS, `stopped ${stopped.afterAbortMs} ms after the abort`);
      assert.ok(stopped.most < 16 * MiB, `${stopped.most} bytes of 512 MiB were hashed`);
      assert.ok((await stat(join(stopped.dir, 'INITRD'))).size < 16 * MiB);
    } finally {
      await file.close();
    }
  });
});

describe('ingestImage aborted during extraction', () => {
  test('removes its staging folder, installs nothing and records no failure', async () => {
    const dir = await fresh('local');
    const archive = join(dir, 'big.tar.gz');
    const bytes = Buffer.concat(bigTarGzMembers([{ name: 'boot/vmlinuz', content: 'kernel' }, { name: 'boot/initrd.img', zeros: GiB }]));
    await writeFile(archive, bytes);
    const dataDir = join(dir, 'data');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const [image] = parseConfigText(`images:\n  - id: demo\n    source: {path: ${archive}, sha256: ${sha256}}\n    boot: {kernel: boot/vmlinuz, initrd: [boot/initrd.img]}\n`, 'images.yaml', { dataDir }).images;
    const { controller, abort, abortedAt } = shutdown();
    const lines: string[] = [];
    let staging: string[] | undefined;
    const ingest = ingestImage(image!, {
      dataDir,
      http: got,
      signal: controller.signal,
      info: (line) => void lines.push(line),
      warn: (line) => void lines.push(line),
      progress: () => ({
        update: ({ received, total }) => {
          if (total !== GiB || received === 0 || staging) return;
          staging = [];
          // What the staging folder holds is read first: the abort removes it.
          void readdir(imageLayout(dataDir, 'demo').versionsDir).then((names) => {
            staging = names;
            abort();
          });
        },
        done: () => {},
      }),
    });
    const { error, afterAbortMs } = await rejection(ingest, abortedAt);
    assert.equal(error, controller.signal.reason, `${String(error)}; log: ${lines.join(' | ')}`);
    assert.ok(afterAbortMs < PROMPTLY_MS, `stopped ${afterAbortMs} ms after the abort`);
    assert.equal(staging?.length, 1, 'a staging folder was being filled');
    assert.match(staging[0]!, /^demo-.*\.partial$/);
    assert.deepEqual(await readdir(imageLayout(dataDir, 'demo').versionsDir), [], 'the staging folder is gone');
    assert.deepEqual((await readdir(join(dataDir, 'images'))).sort(), ['.versions'], 'no link, no failure record, no lock');
  });
});
