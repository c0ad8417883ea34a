// Recipes that find their releases, against fake Debian, Alpine and Arch sites in their documented layouts served on
// 127.0.0.1 through the mirror options: latest and pinned versions, and every broken link of the verification chain.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import got from 'got';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { RECIPES } from '../../src/config/recipes.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { readImageStatuses } from '../../src/ingest/image-status.ts';
import { httpIndexFetcher, INDEX_DEADLINE_MS, indexDeadlineMs } from '../../src/ingest/releases/fetch-index.ts';
import { resolveRelease } from '../../src/ingest/releases/resolve-release.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { runCli } from '../support/cli.ts';
import { startHttpFixture } from '../support/http-fixture-server.ts';
import {
  generateTestSigningKey,
  serveTree,
  writeAlpineTree,
  writeArchTree,
  writeDebianTree,
  writeKeyring,
  writeSignedRelease,
  type FakeDebianRelease,
} from '../support/fake-release-trees.ts';
import { collectingIngestContext } from '../support/ingest-context.ts';
import { assertOldVersionServes } from '../support/serving-version.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-releases-'));
after(() => rm(root, { recursive: true, force: true }));
const key = await generateTestSigningKey();
const otherKey = await generateTestSigningKey('somebody else');
const keyring = await writeKeyring(join(root, 'keys', 'test.gpg'), key);
const server = await serveTree(join(root, 'sites'));
after(() => server.close());
let counter = 0;

const BOOKWORM: FakeDebianRelease = { codename: 'bookworm', suite: 'stable', version: '12.8', linux: 'linux 12.8', initrd: 'initrd 12.8' };

/** A Debian site of its own (so tampering stays in one test) and its mirror URL. */
async function debianSite(release: FakeDebianRelease = BOOKWORM): Promise<{ dir: string; mirror: string; tree: Awaited<ReturnType<typeof writeDebianTree>> }> {
  const name = `debian-${++counter}`;
  const dir = join(root, 'sites', name);
  return { dir, mirror: server.url(`/${name}/`), tree: await writeDebianTree(dir, release, key) };
}

function debianImage(yaml: string): { image: ImageConfig; dataDir: string } {
  const dataDir = join(root, `data-${++counter}`);
  return { image: parseConfigText(yaml, 'images.yaml', { dataDir }).images[0]!, dataDir };
}

const served = (dataDir: string, path: string): Promise<string> => readFile(join(dataDir, 'images', 'demo', path), 'utf8');
const netbootRequests = (): number => server.requests.filter((r) => r.path.endsWith('/netboot/netboot.tar.gz')).length;

describe('debian-netboot finds its release through a mirror and checks the signed chain', () => {
  test('latest through mirrors: installs the stable release, records it, and a second run downloads nothing', async () => {
    const site = await debianSite();
    const { image, dataDir } = debianImage(`mirrors: {debian: "${site.mirror}"}\nimages:\n  - {id: demo, recipe: debian-netboot, version: latest, keyring: ${keyring}}\n`);
    const outcome = await ingestImage(image, collectingIngestContext(dataDir));
    assert.equal(outcome.status, 'installed');
    assert.equal(await served(dataDir, 'debian-installer/amd64/linux'), 'linux 12.8');
    assert.deepEqual(outcome.manifest.release, {
      version: '12.8',
      url: `${site.mirror}dists/bookworm/main/installer-amd64/current/images/netboot/netboot.tar.gz`,
      verifiedBy: 'signature',
      index: `${site.mirror}dists/stable/`,
    });
    const [status] = await readImageStatuses({ images: [image] } as never, dataDir);
    assert.equal(status!.verifiedBy, 'signature');
    assert.equal(status!.version, '12.8');
    assert.match(status!.verification!, /signed Release/);

    const before = netbootRequests();
    assert.equal((await ingestImage(image, collectingIngestContext(dataDir))).status, 'up-to-date');
    assert.equal(netbootRequests(), before, 'an unchanged release downloads no archive');
  });

  test('a new point release is a new ingest; pinned bookworm and 12 resolve, a number no suite carries does not', async () => {
    const site = await debianSite();
    const yaml = (version: string): string => `images:\n  - {id: demo, recipe: debian-netboot, version: "${version}", mirror: "${site.mirror}", keyring: ${keyring}}\n`;
    const { image, dataDir } = debianImage(yaml('latest'));
    await ingestImage(image, collectingIngestContext(dataDir));
    await rm(join(site.dir, 'dists'), { recursive: true });
    await writeDebianTree(site.dir, { ...BOOKWORM, version: '12.9', linux: 'linux 12.9' }, key);
    const next = await ingestImage(image, collectingIngestContext(dataDir));
    assert.equal(next.status, 'installed');
    assert.equal(next.manifest.release?.version, '12.9');
    assert.equal(await served(dataDir, 'debian-installer/amd64/linux'), 'linux 12.9');

    for (const version of ['bookworm', '12', '12.9']) {
      const pinned = debianImage(yaml(version));
      const result = await ingestImage(pinned.image, collectingIngestContext(pinned.dataDir));
      assert.equal(result.manifest.release?.version, '12.9', `version: ${version}`);
    }
    const missing = debianImage(yaml('11'));
    const error = await rejectionOf(ingestImage(missing.image, collectingIngestContext(missing.dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.ReleaseNotFound);
  });

  test('a mirror with only Release and Release.gpg (no InRelease) verifies the detached signature', async () => {
    const site = await debianSite();
    await rm(site.tree.inRelease);
    const { image, dataDir } = debianImage(`images:\n  - {id: demo, recipe: debian-netboot, version: latest, mirror: "${site.mirror}", keyring: ${keyring}}\n`);
    assert.equal((await ingestImage(image, collectingIngestContext(dataDir))).manifest.release?.verifiedBy, 'signature');
  });

  // Each tampering is applied after a good install: the ingest fails with its code, downloads and extracts nothing
  // new, and the installed version keeps serving.
  const tamperings: Array<{ name: string; code: string; apply: (site: Awaited<ReturnType<typeof debianSite>>) => Promise<void> }> = [
    {
      name: 'an InRelease whose signed text was changed',
      code: IngestErrorCode.Signature,
      apply: async ({ tree }) => writeFile(tree.inRelease, (await readFile(tree.inRelease, 'utf8')).replace('Version: 12.9', 'Version: 12.7')),
    },
    {
      name: 'a Release signed by another key',
      code: IngestErrorCode.Signature,
      apply: async ({ tree }) => writeSignedRelease(tree.dists, await readFile(tree.release, 'utf8'), otherKey),
    },
    {
      name: 'a SHA256SUMS that does not match the signed Release',
      code: IngestErrorCode.ChecksumMismatch,
      apply: async ({ tree }) => writeFile(tree.sums, `${'0'.repeat(64)}  ./netboot/netboot.tar.gz\n`),
    },
    {
      name: 'an archive that does not match SHA256SUMS',
      code: IngestErrorCode.ChecksumMismatch,
      apply: async ({ tree }) => writeFile(tree.netboot, Buffer.from('not the archive SHA256SUMS names')),
    },
  ];
  for (const tampering of tamperings) {
    test(`${tampering.name} installs nothing and the old version keeps serving`, async () => {
      const site = await debianSite();
      const { image, dataDir } = debianImage(`images:\n  - {id: demo, recipe: debian-netboot, version: latest, mirror: "${site.mirror}", keyring: ${keyring}}\n`);
      await ingestImage(image, collectingIngestContext(dataDir));
      const servingBefore = await readlink(join(dataDir, 'images', 'demo'));
      // A new release, then the tampering: without it the ingest would install 12.9.
      await rm(join(site.dir, 'dists'), { recursive: true });
      site.tree = await writeDebianTree(site.dir, { ...BOOKWORM, version: '12.9', linux: 'linux 12.9' }, key);
      await tampering.apply(site);
      const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
      assert.equal(error.code, tampering.code, error.message);
      assert.match(error.message, /^[^\n]+$/, 'one sentence');
      await assertOldVersionServes(dataDir, 'demo', servingBefore, 'debian-installer/amd64/linux', 'linux 12.8');
    });
  }

  test('a validly signed Release of another suite is refused: an old release replayed under a codename, or as stable', async () => {
    const site = await debianSite();
    // dists/bookworm now holds bullseye's Release, signed with the right key.
    await writeSignedRelease(site.tree.dists, (await readFile(site.tree.release, 'utf8')).replace('Codename: bookworm', 'Codename: bullseye').replace('Suite: stable', 'Suite: oldoldstable'), key);
    for (const version of ['bookworm', 'latest']) {
      const { image, dataDir } = debianImage(`images:\n  - {id: demo, recipe: debian-netboot, version: ${version}, mirror: "${site.mirror}", keyring: ${keyring}}\n`);
      const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
      assert.equal(error.code, IngestErrorCode.ReleaseIndex, error.message);
      assert.match(error.message, version === 'latest' ? /is for suite oldoldstable, not stable/ : /is for bullseye, not bookworm/);
    }
  });

  test('the Debian archive keyring is the default, so a test key is refused without keyring:', async () => {
    const site = await debianSite();
    const { image, dataDir } = debianImage(`images:\n  - {id: demo, recipe: debian-netboot, version: latest, mirror: "${site.mirror}"}\n`);
    const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.Signature);
  });

  test('a hostile InRelease of 64 MB stops at the 4 MiB cap with one sentence within 5 s', async () => {
    const site = await debianSite();
    await writeFile(site.tree.inRelease, Buffer.alloc(64 * 1024 * 1024, 'A'));
    const { image, dataDir } = debianImage(`images:\n  - {id: demo, recipe: debian-netboot, version: latest, mirror: "${site.mirror}", keyring: ${keyring}}\n`);
    const started = Date.now();
    const error = await rejectionOf(ingestImage(image, collectingIngestContext(dataDir)), IngestError);
    assert.equal(error.code, IngestErrorCode.ReleaseIndex);
    assert.match(error.message, /larger than 4194304 bytes/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});

describe('hostile index servers', () => {
  test('the deadline is 120 s up to Debian\'s 4 MiB Release cap and grows with a bigger index at the same 35 KB/s', () => {
    assert.equal(indexDeadlineMs(1024), INDEX_DEADLINE_MS);
    assert.equal(indexDeadlineMs(4 * 1024 * 1024), INDEX_DEADLINE_MS);
    // trixie's main/binary-amd64/Packages.gz, as its Release lists it.
    assert.equal(indexDeadlineMs(13_335_627), 382_000);
  });

  test('an index dripped one byte at a time under the idle timeout stops at the deadline', async () => {
    const drip = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => response.write('A'), 50);
      response.on('close', () => clearInterval(timer));
    });
    try {
      const started = Date.now();
      const fetchIndex = httpIndexFetcher(got, { retries: 0, deadlineMs: 600 });
      await assert.rejects(fetchIndex(drip.url('/dists/stable/InRelease'), 4 * 1024 * 1024), (error: unknown) => error instanceof IngestError && /ETIMEDOUT/.test(error.message));
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    } finally {
      await drip.close();
    }
  });
});

describe('the command line with a recipe that finds its release', () => {
  test('--dry-run says where it will look and requests nothing; ingest installs; images says 12.8 and signature', async () => {
    const site = await debianSite();
    const data = join(root, `data-${++counter}`);
    const config = join(root, `cli-${counter}.yaml`);
    await writeFile(config, `mirrors: {debian: "${site.mirror}"}\nimages:\n  - {id: demo, recipe: debian-netboot, version: latest, keyring: ${keyring}}\n`);
    const requests = server.requests.length;
    const dry = await runCli(['ingest', '--dry-run', '--config', config, '--data', data]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^  find debian-netboot version latest on ${site.mirror.replaceAll('.', '\\.')}, download it and verify it against the digest the distro's own index gives$`, 'm'));
    assert.equal(server.requests.length, requests, 'a dry run requests nothing');
    const ingest = await runCli(['ingest', '--config', config, '--data', data]);
    assert.equal(ingest.code, 0, ingest.stderr);
    assert.match(ingest.stderr, /version: latest is 12\.8: .*dists\/bookworm\/main\/installer-amd64\/current\/images\/netboot\/netboot\.tar\.gz \(digest from a signed Release\)/);
    const table = await runCli(['images', '--config', config, '--data', data]);
    assert.match(table.stdout, /^demo\s+ready\s+12\.8\s.*\surl\s+signature$/m);
    const json = JSON.parse((await runCli(['images', '--json', '--config', config, '--data', data])).stdout) as Array<{ verifiedBy: string }>;
    assert.equal(json[0]!.verifiedBy, 'signature');
  });
});

describe('alpine and arch find their releases through a mirror', () => {
  test('alpine: latest and a pinned branch install the netboot tarball checked against latest-releases.yaml', async () => {
    const dir = join(root, 'sites', 'alpine');
    const files = { 'boot/vmlinuz-lts': 'alpine kernel', 'boot/initramfs-lts': 'alpine initramfs', 'boot/modloop-lts': 'modloop' };
    await writeAlpineTree(dir, { version: '3.20.3', files, latest: true });
    await writeAlpineTree(dir, { version: '3.19.4', files: { ...files, 'boot/vmlinuz-lts': 'alpine 3.19 kernel' }, latest: false });
    // 3.20.2 is an older release of the branch: the index no longer names it, its .sha256 file does.
    const older = await writeAlpineTree(join(root, 'sites', 'alpine-old'), { version: '3.20.2', files: { ...files, 'boot/vmlinuz-lts': 'alpine 3.20.2 kernel' }, latest: false });
    await cp(older.archive, join(dir, 'v3.20/releases/x86_64/alpine-netboot-3.20.2-x86_64.tar.gz'));
    await cp(`${older.archive}.sha256`, join(dir, 'v3.20/releases/x86_64/alpine-netboot-3.20.2-x86_64.tar.gz.sha256'));
    for (const [version, expected, kernel] of [['latest', '3.20.3', 'alpine kernel'], ['3.19', '3.19.4', 'alpine 3.19 kernel'], ['3.20.2', '3.20.2', 'alpine 3.20.2 kernel']] as const) {
      const dataDir = join(root, `data-${++counter}`);
      const [image] = parseConfigText(`mirrors: {alpine: "${server.url('/alpine/')}"}\nimages:\n  - {id: demo, recipe: alpine, version: "${version}"}\n`, 'images.yaml', { dataDir }).images;
      const outcome = await ingestImage(image!, collectingIngestContext(dataDir));
      assert.equal(outcome.manifest.release?.version, expected);
      assert.equal(outcome.manifest.release?.verifiedBy, 'checksum-http', 'a plain-http mirror says so');
      assert.equal(outcome.manifest.release?.url, server.url(`/alpine/v${expected.slice(0, 4)}/releases/x86_64/alpine-netboot-${expected}-x86_64.tar.gz`));
      assert.equal(await served(dataDir, 'boot/vmlinuz-lts'), kernel);
    }
  });

  test('arch: latest and a dated release resolve to the dated ISO and its sha256 from sha256sums.txt', async () => {
    const dir = join(root, 'sites', 'arch');
    await writeArchTree(dir, { version: '2024.11.01', iso: Buffer.from('old iso'), latest: false });
    await writeArchTree(dir, { version: '2024.12.01', iso: Buffer.from('new iso'), latest: true });
    const fetchIndex = httpIndexFetcher(got, { retries: 0 });
    const mirror = server.url('/arch/');
    const latest = await resolveRelease({ discovery: RECIPES.arch.releases, version: 'latest', mirror }, fetchIndex);
    assert.equal(latest.url, `${mirror}iso/2024.12.01/archlinux-2024.12.01-x86_64.iso`);
    const pinned = await resolveRelease({ discovery: RECIPES.arch.releases, version: '2024.11.01', mirror }, fetchIndex);
    assert.equal(pinned.version, '2024.11.01');
    assert.notEqual(pinned.digest.value, latest.digest.value);
  });
});

