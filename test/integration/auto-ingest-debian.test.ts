// serve keeps `recipe: debian-netboot, version: latest` current by itself: the appliance core with a fake clock for
// ingest.check_every, against a fake Debian mirror (dists/ signed by a test key) named by the image's mirror: and
// keyring:, whose published release the test switches; what the files, the API, the menu and the disk show.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Appliance } from '../../src/appliance/server.ts';
import { IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { getBytes, getMenu, ingestEvents, startWithFakeClock } from '../support/fake-clock-appliance.ts';
import { generateTestSigningKey, serveTree, writeDebianTree, writeKeyring, writeSignedRelease, type FakeDebianRelease, type FakeDebianTree } from '../support/fake-release-trees.ts';

const TOKEN = 'auto-ingest-debian-token-0123456789';
const HOUR = 3_600_000;
const root = await mkdtemp(join(tmpdir(), 'bootstation-auto-ingest-debian-'));
after(() => rm(root, { recursive: true, force: true }));
const key = await generateTestSigningKey();
const otherKey = await generateTestSigningKey('somebody else');
const keyring = await writeKeyring(join(root, 'keys', 'test.gpg'), key);
await mkdir(join(root, 'sites'));
const server = await serveTree(join(root, 'sites'));
after(() => server.close());
// The mirror is root/sites/debian, a link to one of the trees below root/trees: publishing a release is one rename.
const mirror = server.url('/debian/');

/** A kernel that is binary (every byte value, so no text round trip keeps it) and names its release. */
const kernelOf = (version: string): Buffer => Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(`linux ${version}`)]);
const trixie = (version: string): FakeDebianRelease => ({ codename: 'trixie', suite: 'stable', version, linux: kernelOf(version), initrd: `initrd ${version}` });

/** Writes a complete tree for `release` at root/trees/<name>, to be published later. */
const tree = (name: string, release: FakeDebianRelease): Promise<FakeDebianTree> => writeDebianTree(join(root, 'trees', name), release, key);

/** Makes the mirror serve root/trees/<name> from now on, atomically. */
async function publish(name: string): Promise<void> {
  const link = join(root, 'sites', 'debian');
  await rm(`${link}.new`, { force: true });
  await symlink(join(root, 'trees', name), `${link}.new`);
  await rename(`${link}.new`, link);
}

await tree('13.1', trixie('13.1'));
await tree('13.2', trixie('13.2'));
await tree('13.4', trixie('13.4'));
// 13.3 four times, each broken in one link of the chain; without the break each would install.
const otherKeySigned = await tree('13.3-other-key', trixie('13.3'));
await writeSignedRelease(otherKeySigned.dists, await readFile(otherKeySigned.release, 'utf8'), otherKey);
const editedAfterSigning = await tree('13.3-edited', trixie('13.3'));
await writeFile(editedAfterSigning.inRelease, (await readFile(editedAfterSigning.inRelease, 'utf8')).replace('Version: 13.3', 'Version: 13.9'));
const wrongArchive = await tree('13.3-wrong-archive', trixie('13.3'));
// A well-formed netboot.tar.gz, but another release's: SHA256SUMS names a different digest.
const stranger = await tree('stranger', trixie('13.3-stranger'));
await writeFile(wrongArchive.netboot, await readFile(stranger.netboot));
// Archive and SHA256SUMS both swapped for the stranger's: only the signed Release can tell.
const swappedSums = await tree('13.3-swapped-sums', trixie('13.3'));
await writeFile(swappedSums.netboot, await readFile(stranger.netboot));
await writeFile(swappedSums.sums, await readFile(stranger.sums));

const imagesYaml = (imageKeyring: string): string =>
  `server:\n  admin_token: ${TOKEN}\ningest:\n  check_every: 1h\n  keep_versions: 1\nimages:\n  - {id: debian, recipe: debian-netboot, version: latest, mirror: "${mirror}", keyring: ${imageKeyring}}\n`;

const KERNEL = '/images/debian/debian-installer/amd64/linux';
const IMAGES = '/debian/dists/trixie/main/installer-amd64/current/images';
const netbootPath = `${IMAGES}/netboot/netboot.tar.gz`;
const archiveRequests = (): number => server.requests.filter((request) => request.path === netbootPath).length;

type ImagesApi = { images: ImageStatus[]; ingestStates: Record<string, { phase: string; code?: string; message?: string }> };
const imagesApi = async (appliance: Appliance): Promise<ImagesApi> => (await (await fetch(`${appliance.serverUrl}/api/images`)).json()) as ImagesApi;

describe('serve keeps a debian-netboot version: latest image current against a signed mirror', () => {
  test('installs stable on start, takes a point release after check_every and switches atomically, refuses a bad signature and a wrong archive, rolls back and prunes', { timeout: 90_000 }, async () => {
    await publish('13.1');
    const { appliance, clock, dataDir } = await startWithFakeClock(join(root, 'serve'), imagesYaml(keyring));
    const link = join(dataDir, 'images', 'debian');
    const versions = async (): Promise<string[]> => (await readdir(join(dataDir, 'images', '.versions'))).sort();
    const lastEvent = async () => (await ingestEvents(appliance)).at(-1);
    try {
      // 1. Nobody runs ingest: the runner installs stable (13.1), its digest from the signed Release.
      await appliance.ingestIdle();
      assert.deepEqual(await ingestEvents(appliance), [{ image: 'debian', phase: 'running' }, { image: 'debian', phase: 'installed' }]);
      assert.deepEqual(server.requests.map((request) => request.path), ['/debian/dists/stable/InRelease', `${IMAGES}/SHA256SUMS`, netbootPath], 'the signed chain, from the image\'s mirror:');
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.1'), 'the binary kernel arrives byte for byte');
      const manifest = JSON.parse(await readFile(join(link, '.manifest.json'), 'utf8')) as { release?: { version: string; verifiedBy: string; url: string } };
      assert.deepEqual(manifest.release, { version: '13.1', verifiedBy: 'signature', url: server.url(netbootPath), index: `${mirror}dists/stable/` });
      const started = (await imagesApi(appliance)).images[0]!;
      assert.equal(started.state, 'ready');
      assert.equal(started.version, '13.1');
      assert.equal(started.verifiedBy, 'signature');
      assert.match(await getMenu(appliance), /^item bs-image-debian /m);
      const first = await readlink(link);
      // A boot in progress: the kernel is open when the point release arrives.
      const held = await open(join(link, 'debian-installer', 'amd64', 'linux'));

      // 2. 13.2 is published: nothing is fetched until check_every has passed, then it is installed beside 13.1.
      await publish('13.2');
      const requests = server.requests.length;
      clock.advance(HOUR - 1);
      await appliance.ingestIdle();
      assert.equal(server.requests.length, requests, 'the mirror is not asked before check_every');
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.1'));
      clock.advance(1);
      await appliance.ingestIdle();
      assert.equal((await lastEvent())?.phase, 'installed');
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.2'));
      const second = await readlink(link);
      assert.notEqual(second, first, 'the link names the new version');
      assert.deepEqual(await held.readFile(), kernelOf('13.1'), 'the open kernel still reads the old release');
      await held.close();
      assert.deepEqual(await versions(), [first, second].map((name) => name.slice('.versions/'.length)).sort(), 'the old version is kept beside the new one');
      assert.equal((await imagesApi(appliance)).images[0]?.version, '13.2');

      // Nothing new: the next check, check_every later again, reads the signed index and downloads no archive.
      assert.equal(archiveRequests(), 2);
      const afterInstall = server.requests.length;
      clock.advance(HOUR - 1);
      await appliance.ingestIdle();
      assert.equal(server.requests.length, afterInstall, 'the next check waits check_every again');
      clock.advance(1);
      await appliance.ingestIdle();
      assert.equal((await lastEvent())?.phase, 'up-to-date');
      assert.equal(archiveRequests(), 2, 'an unchanged release downloads no archive');

      // 3 and 4. A broken link of the chain: the ingest fails with its code, nothing is installed, 13.2 keeps serving.
      const badSignature = /^http:\/\/127\.0\.0\.1:\d+\/debian\/dists\/stable\/InRelease is not signed by a key of the keyring /;
      for (const [name, code, message, downloads] of [
        ['13.3-other-key', IngestErrorCode.Signature, badSignature, 0],
        ['13.3-edited', IngestErrorCode.Signature, badSignature, 0],
        ['13.3-wrong-archive', IngestErrorCode.ChecksumMismatch, /\/netboot\/netboot\.tar\.gz has sha256 [0-9a-f]{64}, but [0-9a-f]{64} was expected; .*nothing was installed — the mirror serves another archive than its verified index names/, 1],
        ['13.3-swapped-sums', IngestErrorCode.ChecksumMismatch, /\/SHA256SUMS has sha256 [0-9a-f]{64} \(\d+ bytes\), but its signed Release lists [0-9a-f]{64} \(\d+ bytes\); nothing was installed/, 0],
      ] as const) {
        await publish(name);
        const archivesBefore = archiveRequests();
        clock.advance(HOUR);
        await appliance.ingestIdle();
        const failed = await lastEvent();
        assert.equal(failed?.phase, 'failed', name);
        assert.match(failed?.message ?? '', message, name);
        assert.equal(archiveRequests() - archivesBefore, downloads, `${name}: archives downloaded`);
        const api = await imagesApi(appliance);
        assert.equal(api.ingestStates['debian']?.phase, 'failed', name);
        assert.equal(api.ingestStates['debian']?.code, code, `${name}: ${api.ingestStates['debian']?.message}`);
        assert.equal(api.images[0]?.state, 'failed', `${name}: the image's status shows the failure`);
        assert.equal(api.images[0]?.failure?.code, code, name);
        assert.equal(api.images[0]?.version, '13.2', name);
        assert.equal(await readlink(link), second, `${name}: nothing was installed`);
        assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.2'), `${name}: the old version keeps serving`);
        assert.match(await getMenu(appliance), /^item bs-image-debian /m, `${name}: the image stays bootable`);
        assert.equal((await versions()).length, 2, `${name}: no new or staging version is left: ${(await versions()).join(', ')}`);
      }

      // 5. Rollback from the dashboard's endpoint: 13.1 serves again, and stays while 13.2 is the mirror's release.
      await publish('13.2');
      const post = (path: string): Promise<Response> => fetch(`${appliance.serverUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      const rolled = await post('/api/images/debian/rollback');
      assert.equal(rolled.status, 200);
      assert.deepEqual(await rolled.json(), { image: 'debian', from: second.slice('.versions/'.length), to: first.slice('.versions/'.length) });
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.1'));
      assert.equal(await readlink(link), first);
      assert.equal((await imagesApi(appliance)).images[0]?.pinned, first.slice('.versions/'.length));
      clock.advance(HOUR);
      await appliance.ingestIdle();
      assert.equal((await lastEvent())?.phase, 'pinned', 'the release rolled back from is not installed again');
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.1'));

      // A newer point release ends the pin; keep_versions: 1 keeps the serving version and the one before it.
      await publish('13.4');
      clock.advance(HOUR);
      await appliance.ingestIdle();
      assert.equal((await lastEvent())?.phase, 'installed');
      assert.deepEqual(await getBytes(appliance, KERNEL), kernelOf('13.4'));
      const fourth = await readlink(link);
      assert.deepEqual(await versions(), [second, fourth].map((name) => name.slice('.versions/'.length)).sort(), 'keep_versions: 1 pruned 13.1');
      const status = (await imagesApi(appliance)).images[0]!;
      assert.equal(status.version, '13.4');
      assert.equal(status.pinned, null);
      assert.equal(status.state, 'ready', 'a later install clears the failure');
    } finally {
      await appliance.close();
    }
  });

  test('an image whose keyring: does not hold the mirror\'s key is never installed; the menu says failed: and why', { timeout: 30_000 }, async () => {
    await publish('13.1');
    const strangerKeyring = await writeKeyring(join(root, 'keys', 'other.gpg'), otherKey);
    const archivesBefore = archiveRequests();
    const { appliance, dataDir } = await startWithFakeClock(join(root, 'wrong-keyring'), imagesYaml(strangerKeyring));
    try {
      await appliance.ingestIdle();
      assert.deepEqual((await ingestEvents(appliance)).map((event) => event.phase), ['running', 'failed']);
      // The menu shows the failure's first clause, cut to fit a menu line.
      assert.match(await getMenu(appliance), /^item --gap -- debian latest \(failed: http:\/\/127\.0\.0\.1:\d+\/debian\/dists\/stable\/InRelease is not signed by a key of the keyring \S.*\)$/m);
      assert.equal((await imagesApi(appliance)).ingestStates['debian']?.code, IngestErrorCode.Signature);
      assert.equal(archiveRequests(), archivesBefore, 'no archive is downloaded on an unverified index');
      assert.deepEqual(await readdir(join(dataDir, 'images', '.versions')).catch(() => []), [], 'nothing was installed');
    } finally {
      await appliance.close();
    }
  });
});
