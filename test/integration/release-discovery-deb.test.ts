// memtest86plus with version: latest finds Debian's memtest86+ package through a fake Debian archive (signed by a test
// key, served on 127.0.0.1 through mirror: and keyring:): InRelease → Packages.gz → the .deb, whose data.tar gives
// memtest64.bin and .efi. Every broken link of the chain installs nothing; the real package from Debian's mirror,
// placed in the fake archive, installs byte for byte what dpkg-deb unpacks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { arArchive, buildDeb, downloadDebianPackage, fakeMemtestDeb, writeDebianPackageTree, type FakePackage } from '../support/fake-debian-packages.ts';
import { generateTestSigningKey, serveTree, sha256, writeKeyring, writeSignedRelease } from '../support/fake-release-trees.ts';
import { skipOrFail } from '../support/skip-policy.ts';
import { collectingIngestContext } from '../support/ingest-context.ts';
import { assertOldVersionServes } from '../support/serving-version.ts';

const run = promisify(execFile);
const root = await mkdtemp(join(tmpdir(), 'bootstation-deb-releases-'));
after(() => rm(root, { recursive: true, force: true }));
const key = await generateTestSigningKey();
const otherKey = await generateTestSigningKey('somebody else');
const keyring = await writeKeyring(join(root, 'keys', 'test.gpg'), key);
const server = await serveTree(join(root, 'sites'));
after(() => server.close());
let counter = 0;
// apt-get download reaches only Debian's package mirrors, which CI has; dpkg-deb is in every Debian.
const aptMissing = await run('apt-cache', ['show', '--no-all-versions', 'memtest86+']).then(
  () => undefined,
  () => 'apt-cache knows no memtest86+ (run apt-get update)',
);


const BOOKWORM = { codename: 'bookworm', suite: 'stable', version: '12.8' };

async function memtest(tag: string, version = '6.10-4'): Promise<FakePackage> {
  return { name: 'memtest86+', version, deb: await fakeMemtestDeb(tag, { version }) };
}

/** A Debian site of its own (so tampering stays in one test) with `packages` and its mirror URL. */
async function debianSite(packages: FakePackage[], options: Parameters<typeof writeDebianPackageTree>[4] = {}) {
  const name = `debian-${++counter}`;
  const dir = join(root, 'sites', name);
  return { dir, mirror: server.url(`/${name}/`), tree: await writeDebianPackageTree(dir, BOOKWORM, packages, key, options) };
}

function memtestImage(mirror: string, version = 'latest', extra = ''): { image: ImageConfig; dataDir: string } {
  const dataDir = join(root, `data-${++counter}`);
  const yaml = `images:\n  - {id: memtest, recipe: memtest86plus, version: ${version}, mirror: "${mirror}", keyring: ${keyring}${extra}}\n`;
  return { image: parseConfigText(yaml, 'images.yaml', { dataDir }).images[0]!, dataDir };
}

const served = (dataDir: string, path: string): Promise<string> => readFile(join(dataDir, 'images', 'memtest', path), 'utf8');
const debRequests = (): number => server.requests.filter((r) => r.path.endsWith('.deb')).length;
const requestsEndingIn = (suffix: string): number => server.requests.filter((r) => r.path.endsWith(suffix)).length;

describe('memtest86plus finds Debian\'s package through a mirror and checks the signed chain', () => {
  test('latest installs memtest64.bin and .efi from the stable suite\'s package, records it, and a second run downloads nothing', async () => {
    const site = await debianSite([await memtest('6.10')]);
    const { image, dataDir } = memtestImage(site.mirror);
    const ctx = collectingIngestContext(dataDir);
    const outcome = await ingestImage(image, ctx);
    assert.equal(outcome.status, 'installed');
    assert.equal(await served(dataDir, 'memtest64.bin'), 'memtest86+x64.bin 6.10');
    assert.equal(await served(dataDir, 'memtest64.efi'), 'memtest86+x64.efi 6.10');
    assert.deepEqual(outcome.manifest.files.map((file) => file.path), ['memtest64.bin', 'memtest64.efi'], 'only the boot files, under their stable names');
    assert.deepEqual(outcome.manifest.release, {
      version: '6.10-4',
      url: `${site.mirror}pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb`,
      verifiedBy: 'signature',
      index: `${site.mirror}dists/bookworm/main/binary-amd64/Packages.gz`,
    });
    assert.equal(outcome.manifest.archive.type, 'deb');
    assert.ok(outcome.manifest.archiveVerified);
    assert.ok(ctx.lines.some((line) => /^version: latest is 6\.10-4: .*memtest86\+_6\.10-4_amd64\.deb \(digest from a signed Release\)$/.test(line)), ctx.lines.join('\n'));
    assert.ok(ctx.lines.some((line) => /installed 2 files; archive verified \(sha256 from a Packages index whose digest a signed Release gives/.test(line)), ctx.lines.join('\n'));

    const before = debRequests();
    const [inReleases, packages] = [requestsEndingIn('/InRelease'), requestsEndingIn('/Packages.gz')];
    assert.equal((await ingestImage(image, collectingIngestContext(dataDir))).status, 'up-to-date');
    assert.equal(debRequests(), before, 'an unchanged package downloads no .deb');
    assert.equal(requestsEndingIn('/InRelease'), inReleases + 1, 'the signed Release is fetched and checked again');
    assert.equal(requestsEndingIn('/Packages.gz'), packages, 'a Packages.gz with the digest the signed Release gave before is not downloaded again');
  });

  test('a new package version in the suite is a new ingest; version: bookworm finds it too; a number is refused', async () => {
    const site = await debianSite([await memtest('6.10')]);
    const { image, dataDir } = memtestImage(site.mirror);
    await ingestImage(image, collectingIngestContext(dataDir));
    await rm(join(site.dir, 'dists'), { recursive: true });
    await writeDebianPackageTree(site.dir, BOOKWORM, [await memtest('7.20', '7.20-1')], key);
    const packages = requestsEndingIn('/Packages.gz');
    const next = await ingestImage(image, collectingIngestContext(dataDir));
    assert.equal(requestsEndingIn('/Packages.gz'), packages + 1, 'a Packages.gz of a new digest is downloaded');
    assert.equal(next.status, 'installed');
    assert.equal(next.manifest.release?.version, '7.20-1');
    assert.equal(await served(dataDir, 'memtest64.bin'), 'memtest86+x64.bin 7.20');

    const pinned = memtestImage(site.mirror, 'bookworm');
    assert.equal((await ingestImage(pinned.image, collectingIngestContext(pinned.dataDir))).manifest.release?.version, '7.20-1');
    for (const version of ['"12"', '"7.20"']) {
      const numbered = memtestImage(site.mirror, version);
      const error = await rejectionOf(ingestImage(numbered.image, collectingIngestContext(numbered.dataDir)), IngestError);
      assert.equal(error.code, IngestErrorCode.ReleaseNotFound);
      assert.match(error.message, /takes latest \(stable\) or a suite such as bookworm or trixie/);
    }
  });

  test('a suite whose index lacks the package says so', async () => {
    const site = await debianSite([{ name: 'memtester', version: '4.6.0-1', deb: await buildDeb({ './usr/bin/memtester': 'x' }, { package: 'memtester' }) }]);
    const { image, dataDir } = memtestImage(site.mirror);
    const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.ReleaseNotFound);
    assert.match(error.message, /Packages\.gz does not list memtest86\+/);
  });

  // Each tampering is applied after a good install: the ingest fails with its code, and the installed version keeps
  // serving with no staging or new version left.
  type Site = Awaited<ReturnType<typeof debianSite>>;
  const tamperings: Array<{ name: string; code: string; message: RegExp; apply: (site: Site) => Promise<void> }> = [
    {
      name: 'an InRelease whose signed text was changed',
      code: IngestErrorCode.Signature,
      message: /InRelease/,
      apply: async ({ tree }) => writeFile(tree.inRelease, (await readFile(tree.inRelease, 'utf8')).replace('Version: 12.8', 'Version: 12.7')),
    },
    {
      name: 'a Release signed by another key',
      code: IngestErrorCode.Signature,
      message: /InRelease/,
      apply: async ({ tree }) => writeSignedRelease(tree.dists, await readFile(tree.release, 'utf8'), otherKey),
    },
    {
      name: 'a Packages.gz that does not match the signed Release',
      code: IngestErrorCode.ChecksumMismatch,
      message: /Packages\.gz has sha256 .* but its signed Release lists/,
      apply: async ({ tree }) => writeFile(tree.packagesGz, Buffer.from('not the index the Release names')),
    },
    {
      name: 'a .deb that does not match its Packages paragraph',
      code: IngestErrorCode.ChecksumMismatch,
      message: /sha256/,
      apply: async ({ tree }) => writeFile(tree.debs['memtest86+']!, await fakeMemtestDeb('evil', { version: '7.20-1' })),
    },
  ];
  for (const tampering of tamperings) {
    test(`${tampering.name} installs nothing and the old version keeps serving`, async () => {
      const site = await debianSite([await memtest('6.10')]);
      const { image, dataDir } = memtestImage(site.mirror);
      await ingestImage(image, collectingIngestContext(dataDir));
      const servingBefore = await readlink(join(dataDir, 'images', 'memtest'));
      // A new version, then the tampering: without it the ingest would install 7.20.
      await rm(join(site.dir, 'dists'), { recursive: true });
      site.tree = await writeDebianPackageTree(site.dir, BOOKWORM, [await memtest('7.20', '7.20-1')], key);
      await tampering.apply(site);
      const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
      assert.equal(error.code, tampering.code, error.message);
      assert.match(error.message, tampering.message);
      assert.match(error.message, /^[^\n]+$/, 'one sentence');
      await assertOldVersionServes(dataDir, 'memtest', servingBefore, 'memtest64.bin', 'memtest86+x64.bin 6.10');
    });
  }

  test('a validly signed index whose Filename leaves the pool is refused before anything is downloaded', async () => {
    const site = await debianSite([await memtest('6.10')], { paragraph: (text) => text.replace(/^Filename: .*$/m, 'Filename: pool/../../../secret.deb') });
    const { image, dataDir } = memtestImage(site.mirror);
    const before = server.requests.length;
    const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.ReleaseIndex);
    assert.match(error.message, /has a "\." or "\.\." segment/);
    assert.ok(!server.requests.slice(before).some((r) => r.path.endsWith('.deb')), 'no .deb requested');
  });

  test('a Release listing a Packages.gz of 1 GB is refused without fetching it; a gzip bomb stops at the listed size', async () => {
    const big = await debianSite([await memtest('6.10')]);
    const text = (await readFile(big.tree.release, 'utf8')).replace(/^( \S+ +)\d+( main\/binary-amd64\/Packages\.gz)$/m, '$11073741824$2');
    await writeSignedRelease(big.tree.dists, text, key);
    const first = memtestImage(big.mirror);
    const before = server.requests.length;
    const error = await rejectionOf(ingestImage(first.image, collectingIngestContext(first.dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.ReleaseIndex);
    assert.match(error.message, /lists main\/binary-amd64\/Packages\.gz with 1073741824 bytes/);
    assert.ok(!server.requests.slice(before).some((r) => r.path.endsWith('Packages.gz')), 'Packages.gz not fetched');

    // A signed Release whose Packages.gz unpacks to far more than the uncompressed Packages it lists.
    const bomb = await debianSite([await memtest('6.10')]);
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    await writeFile(bomb.tree.packagesGz, gz);
    const lines = (await readFile(bomb.tree.release, 'utf8')).replace(/^ \S+ +\d+ main\/binary-amd64\/Packages\.gz$/m, ` ${sha256(gz)} ${gz.length} main/binary-amd64/Packages.gz`);
    await writeSignedRelease(bomb.tree.dists, lines, key);
    const second = memtestImage(bomb.mirror);
    const bombError = await rejectionOf(ingestImage(second.image, collectingIngestContext(second.dataDir)), IngestError);
    assert.equal(bombError.code, IngestErrorCode.ReleaseIndex);
    assert.match(bombError.message, /Packages\.gz unpacks to more than \d+ bytes/);
  });
});

describe('a .deb as a source: archive', () => {
  for (const compression of ['xz', 'gzip', 'zstd', 'none'] as const) {
    test(`data.tar${compression === 'none' ? '' : ` (${compression})`} is read`, async () => {
      const deb = await buildDeb({ './boot/memtest86+x64.bin': `bin ${compression}`, './boot/memtest86+x64.efi': `efi ${compression}` }, { compression });
      const path = join(root, `memtest-${compression}.deb`);
      await writeFile(path, deb);
      const dataDir = join(root, `data-${++counter}`);
      const [image] = parseConfigText(`images:\n  - {id: memtest, recipe: memtest86plus, source: {path: ${path}, sha256: ${sha256(deb)}}}\n`, 'images.yaml', { dataDir }).images;
      const outcome = await ingestImage(image!, collectingIngestContext(dataDir));
      assert.equal(outcome.manifest.archive.type, 'deb');
      assert.equal(await served(dataDir, 'memtest64.bin'), `bin ${compression}`);
      assert.equal(await served(dataDir, 'memtest64.efi'), `efi ${compression}`);
    });
  }

  test('a .deb whose data.tar reaches past the end of the file, or that has none, installs nothing', async () => {
    const good = await buildDeb({ './boot/memtest86+x64.bin': 'bin' }, { compression: 'gzip' });
    const cases: Array<[string, Buffer, RegExp]> = [
      ['cut short', good.subarray(0, good.length - 10), /cannot be read as a Debian package \(ar member data\.tar\.gz is \d+ bytes long but the file ends/],
      ['without data.tar', arArchive([{ name: 'debian-binary', content: Buffer.from('2.0\n') }, { name: 'control.tar.gz', content: Buffer.from('c') }]), /ends before its data\.tar member/],
      ['bzip2 data.tar', arArchive([{ name: 'debian-binary', content: Buffer.from('2.0\n') }, { name: 'control.tar.gz', content: Buffer.from('c') }, { name: 'data.tar.bz2', content: Buffer.from('BZh9') }]), /data\.tar\.bz2, a compression ingest does not read/],
    ];
    for (const [what, bytes, message] of cases) {
      const path = join(root, `broken-${++counter}.deb`);
      await writeFile(path, bytes);
      const dataDir = join(root, `data-${++counter}`);
      const [image] = parseConfigText(`images:\n  - {id: memtest, recipe: memtest86plus, source: {path: ${path}, sha256: ${sha256(bytes)}}}\n`, 'images.yaml', { dataDir }).images;
      const error = await rejectionOf(ingestImage(image!, collectingIngestContext(dataDir)), IngestError);
      assert.equal(error.code, IngestErrorCode.BadArchive, `${what}: ${error.message}`);
      assert.match(error.message, message, what);
      assert.deepEqual(await readdir(join(dataDir, 'images')).then((names) => names.filter((n) => n === 'memtest')), [], `${what}: nothing served`);
    }
  });
});

describe('interop with Debian\'s own memtest86+ package', () => {
  test('the real .deb in the fake archive installs memtest64.bin and .efi byte for byte as dpkg-deb -x unpacks them', { skip: skipOrFail('release-discovery-real-memtest-deb', aptMissing) }, async () => {
    const work = join(root, 'real');
    const real = await downloadDebianPackage('memtest86+', work);
    const version = real.version;
    await writeFile(join(work, 'real.deb'), real.deb);
    await run('dpkg-deb', ['-x', join(work, 'real.deb'), join(work, 'unpacked')]);

    const site = await debianSite([real]);
    const { image, dataDir } = memtestImage(site.mirror);
    const outcome = await ingestImage(image, collectingIngestContext(dataDir));
    assert.equal(outcome.manifest.release?.version, version);
    for (const [target, original] of [['memtest64.bin', 'boot/memtest86+x64.bin'], ['memtest64.efi', 'boot/memtest86+x64.efi']]) {
      const installed = await readFile(join(dataDir, 'images', 'memtest', target!));
      const unpacked = await readFile(join(work, 'unpacked', original!));
      assert.ok(unpacked.length > 100_000, `${original} is the real binary (${unpacked.length} bytes)`);
      assert.equal(sha256(installed), sha256(unpacked), `${target} equals dpkg-deb's ${original}`);
    }
  });
});
