// Fedora, SystemRescue, GParted and Clonezilla find their releases: against fake project sites in their documented
// layouts served on 127.0.0.1 through the mirror options (latest, a pinned version, a checksum that does not match),
// and the URLs the recipes ask for without a mirror, read through a fetcher that serves from memory.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ImageConfig } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { RECIPES } from '../../src/config/recipes.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import type { FetchIndex } from '../../src/ingest/releases/release-request.ts';
import { resolveRelease } from '../../src/ingest/releases/resolve-release.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { serveTree } from '../support/fake-release-trees.ts';
import { drblZipFiles, fedoraIsoFiles, systemRescueIsoFiles, writeDrblTree, writeFedoraTree, writeSystemRescueTree } from '../support/fake-project-releases.ts';
import { xorrisoMissing } from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';
import { collectingIngestContext } from '../support/ingest-context.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-releases-more-'));
after(() => rm(root, { recursive: true, force: true }));
const server = await serveTree(join(root, 'sites'));
after(() => server.close());
const noXorriso = await xorrisoMissing();
let counter = 0;

function image(yaml: string): { image: ImageConfig; dataDir: string } {
  const dataDir = join(root, `data-${++counter}`);
  return { image: parseConfigText(yaml, 'images.yaml', { dataDir }).images[0]!, dataDir };
}

const served = (dataDir: string, path: string): Promise<string> => readFile(join(dataDir, 'images', 'demo', path), 'utf8');

/** A site folder of its own (so tampering stays in one test) and its URL. */
function site(name: string): { dir: string; url: string } {
  const unique = `${name}-${++counter}`;
  return { dir: join(root, 'sites', unique), url: server.url(`/${unique}/`) };
}

/** The ingest fails with `code` in one sentence, and the image folder is as before: nothing new installed or left. */
async function refusedAndUnchanged(target: { image: ImageConfig; dataDir: string }, code: string): Promise<IngestError> {
  const link = join(target.dataDir, 'images', 'demo');
  const before = await readlink(link).catch(() => undefined);
  const versionsBefore = await readdir(join(target.dataDir, 'images', '.versions')).catch(() => []);
  const error = await rejectionOf(ingestImage(target.image, collectingIngestContext(target.dataDir)), IngestError);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, /^[^\n]+$/, 'one sentence');
  assert.equal(await readlink(link).catch(() => undefined), before, 'the served version is unchanged');
  assert.deepEqual(await readdir(join(target.dataDir, 'images', '.versions')).catch(() => []), versionsBefore, 'no staging or new version left');
  return error;
}

describe('fedora finds its release in releases.json', { skip: skipOrFail('release-discovery-more-fedora', noXorriso) }, () => {
  test('latest through mirrors: is the highest release (not the beta), pinned 43 through mirror: is 43; both from the mirror', async () => {
    const fedora = site('fedora');
    await writeFedoraTree(fedora.dir, [
      { version: '43', files: fedoraIsoFiles('43') },
      { version: '44', files: fedoraIsoFiles('44') },
    ]);
    const latest = image(`mirrors: {fedora: "${fedora.url}"}\nimages:\n  - {id: demo, recipe: fedora, version: latest}\n`);
    const outcome = await ingestImage(latest.image, collectingIngestContext(latest.dataDir));
    assert.equal(outcome.status, 'installed');
    assert.deepEqual(outcome.manifest.release, {
      version: '44',
      url: `${fedora.url}pub/fedora/linux/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-44-1.1.x86_64.iso`,
      verifiedBy: 'checksum-http',
      index: `${fedora.url}releases.json`,
    });
    assert.equal(await served(latest.dataDir, 'images/pxeboot/vmlinuz'), 'fedora kernel 44');
    assert.equal(await served(latest.dataDir, 'LiveOS/squashfs.img'), 'fedora root 44');

    const pinned = image(`images:\n  - {id: demo, recipe: fedora, version: "43", mirror: "${fedora.url}"}\n`);
    assert.equal((await ingestImage(pinned.image, collectingIngestContext(pinned.dataDir))).manifest.release?.version, '43');
    assert.equal(await served(pinned.dataDir, 'images/pxeboot/vmlinuz'), 'fedora kernel 43');

    const beta = image(`images:\n  - {id: demo, recipe: fedora, version: "45", mirror: "${fedora.url}"}\n`);
    const error = await refusedAndUnchanged(beta, IngestErrorCode.ReleaseNotFound);
    assert.match(error.message, /version: 45 has no Workstation live ISO for x86_64/);
  });

  test('an ISO whose sha256 is not the one releases.json gives installs nothing and the old release keeps serving', async () => {
    const fedora = site('fedora');
    await writeFedoraTree(fedora.dir, [{ version: '43', files: fedoraIsoFiles('43') }]);
    const target = image(`images:\n  - {id: demo, recipe: fedora, version: latest, mirror: "${fedora.url}"}\n`);
    await ingestImage(target.image, collectingIngestContext(target.dataDir));
    // Release 44 appears, but the file on the mirror is not the one the index names.
    const { isos } = await writeFedoraTree(fedora.dir, [{ version: '43', files: fedoraIsoFiles('43') }, { version: '44', files: fedoraIsoFiles('44') }]);
    await writeFile(isos.get('44')!, Buffer.concat([await readFile(isos.get('44')!), Buffer.from('tampered')]));
    await refusedAndUnchanged(target, IngestErrorCode.ChecksumMismatch);
    assert.equal(await served(target.dataDir, 'images/pxeboot/vmlinuz'), 'fedora kernel 43');
  });

  test('a releases.json linking the ISO outside the download site is refused before anything is downloaded', async () => {
    const fedora = site('fedora');
    const { index } = await writeFedoraTree(fedora.dir, [{ version: '44', files: fedoraIsoFiles('44') }]);
    await writeFile(index, (await readFile(index, 'utf8')).replaceAll('https://download.fedoraproject.org/', 'https://elsewhere.example/'));
    const requests = server.requests.length;
    const error = await refusedAndUnchanged(image(`images:\n  - {id: demo, recipe: fedora, version: latest, mirror: "${fedora.url}"}\n`), IngestErrorCode.ReleaseIndex);
    assert.match(error.message, /links the ISO of Fedora 44 outside https:\/\/download\.fedoraproject\.org\//);
    assert.deepEqual(server.requests.slice(requests).map((r) => r.path), [`/${fedora.url.split('/').at(-2)}/releases.json`], 'only the index was requested');
  });
});

describe('systemrescue finds a pinned release by its .sha256 file', { skip: skipOrFail('release-discovery-more-systemrescue', noXorriso) }, () => {
  test('12.01 through mirrors: installs; latest is refused (no list of releases) without a request', async () => {
    const sysrescue = site('systemrescue');
    await writeSystemRescueTree(sysrescue.dir, { version: '12.01', files: systemRescueIsoFiles('12.01') });
    const pinned = image(`mirrors: {systemrescue: "${sysrescue.url}"}\nimages:\n  - {id: demo, recipe: systemrescue, version: "12.01"}\n`);
    const outcome = await ingestImage(pinned.image, collectingIngestContext(pinned.dataDir));
    assert.deepEqual(outcome.manifest.release, {
      version: '12.01',
      url: `${sysrescue.url}releases/12.01/systemrescue-12.01-amd64.iso`,
      verifiedBy: 'checksum-http',
      index: `${sysrescue.url}releases/12.01/systemrescue-12.01-amd64.iso.sha256`,
    });
    assert.equal(await served(pinned.dataDir, 'sysresccd/boot/x86_64/vmlinuz'), 'sysrescue kernel 12.01');

    const requests = server.requests.length;
    const latest = image(`images:\n  - {id: demo, recipe: systemrescue, version: latest, mirror: "${sysrescue.url}"}\n`);
    const error = await refusedAndUnchanged(latest, IngestErrorCode.ReleaseNotFound);
    assert.match(error.message, /version: latest is not a release number such as 12\.01: this recipe finds pinned releases only/);
    assert.equal(server.requests.length, requests);
    const missing = image(`images:\n  - {id: demo, recipe: systemrescue, version: "11.03", mirror: "${sysrescue.url}"}\n`);
    assert.match((await refusedAndUnchanged(missing, IngestErrorCode.ReleaseNotFound)).message, /version: 11\.03 is not on the site/);
  });

  test('an ISO that does not match its .sha256 installs nothing', async () => {
    const sysrescue = site('systemrescue');
    const tree = await writeSystemRescueTree(sysrescue.dir, { version: '12.01', files: systemRescueIsoFiles('12.01') });
    await writeFile(tree.sums, `${'0'.repeat(64)}  systemrescue-12.01-amd64.iso\n`);
    await refusedAndUnchanged(image(`images:\n  - {id: demo, recipe: systemrescue, version: "12.01", mirror: "${sysrescue.url}"}\n`), IngestErrorCode.ChecksumMismatch);
  });
});

describe('gparted and clonezilla find their stable release in CHECKSUMS.TXT', () => {
  test('gparted: latest and the stable number install the zip; an older number is refused; clonezilla: latest installs', async () => {
    const gparted = site('gparted');
    await writeDrblTree(gparted.dir, 'gparted', { version: '1.7.0-12', files: drblZipFiles('gparted 1.7.0-12') });
    for (const version of ['latest', '1.7.0-12']) {
      const target = image(`mirrors: {gparted: "${gparted.url}"}\nimages:\n  - {id: demo, recipe: gparted, version: "${version}"}\n`);
      const outcome = await ingestImage(target.image, collectingIngestContext(target.dataDir));
      assert.deepEqual(outcome.manifest.release, {
        version: '1.7.0-12',
        url: `${gparted.url}gparted-live-stable/1.7.0-12/gparted-live-1.7.0-12-amd64.zip`,
        verifiedBy: 'checksum-http',
        index: `${gparted.url}gparted-live/stable/CHECKSUMS.TXT`,
      });
      assert.equal(await served(target.dataDir, 'live/vmlinuz'), 'live kernel gparted 1.7.0-12');
    }
    const older = image(`images:\n  - {id: demo, recipe: gparted, version: "1.6.0-3", mirror: "${gparted.url}"}\n`);
    assert.match((await refusedAndUnchanged(older, IngestErrorCode.ReleaseNotFound)).message, /is not the stable release that .*CHECKSUMS\.TXT gives checksums for \(1\.7\.0-12\); for an older release give the image source: with its sha256/);

    const clonezilla = site('clonezilla');
    await writeDrblTree(clonezilla.dir, 'clonezilla', { version: '3.3.0-33', files: drblZipFiles('clonezilla 3.3.0-33') });
    const target = image(`images:\n  - {id: demo, recipe: clonezilla, version: latest, mirror: "${clonezilla.url}"}\n`);
    const outcome = await ingestImage(target.image, collectingIngestContext(target.dataDir));
    assert.equal(outcome.manifest.release?.url, `${clonezilla.url}clonezilla_live_stable/3.3.0-33/clonezilla-live-3.3.0-33-amd64.zip`);
    assert.equal(await served(target.dataDir, 'live/filesystem.squashfs'), 'live root clonezilla 3.3.0-33');
  });

  test('a zip that does not match CHECKSUMS.TXT installs nothing and the old release keeps serving', async () => {
    const gparted = site('gparted');
    await writeDrblTree(gparted.dir, 'gparted', { version: '1.7.0-8', files: drblZipFiles('1.7.0-8') });
    const target = image(`images:\n  - {id: demo, recipe: gparted, version: latest, mirror: "${gparted.url}"}\n`);
    await ingestImage(target.image, collectingIngestContext(target.dataDir));
    const next = await writeDrblTree(gparted.dir, 'gparted', { version: '1.7.0-12', files: drblZipFiles('1.7.0-12') });
    await writeFile(next.zip, Buffer.concat([await readFile(next.zip), Buffer.from('x')]));
    await refusedAndUnchanged(target, IngestErrorCode.ChecksumMismatch);
    assert.equal(await served(target.dataDir, 'live/vmlinuz'), 'live kernel 1.7.0-8');
    assert.ok((await stat(next.zip)).isFile());
  });
});

describe("without a mirror, each recipe reads its project's own index over HTTPS and downloads from its download site", () => {
  /** A fetcher that serves `files` by URL from memory and records every URL asked for. */
  function memoryFetcher(files: Record<string, string>): { fetchIndex: FetchIndex; asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      fetchIndex: async (url) => {
        asked.push(url);
        return files[url] === undefined ? undefined : new Uint8Array(Buffer.from(files[url]));
      },
    };
  }
  const DIGEST = 'e'.repeat(64);

  test('fedora: fedoraproject.org/releases.json, the link as given', async () => {
    const link = 'https://download.fedoraproject.org/pub/fedora/linux/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-44-1.7.x86_64.iso';
    const { fetchIndex, asked } = memoryFetcher({
      'https://fedoraproject.org/releases.json': JSON.stringify([{ version: '44', arch: 'x86_64', variant: 'Workstation', subvariant: 'Workstation', link, sha256: DIGEST, size: '2851612672' }]),
    });
    const found = await resolveRelease({ discovery: RECIPES.fedora.releases, version: 'latest', mirror: RECIPES.fedora.releases.mirror }, fetchIndex);
    assert.deepEqual(found, { version: '44', url: link, digest: { algorithm: 'sha256', value: DIGEST }, verifiedBy: 'checksum-https', indexUrl: 'https://fedoraproject.org/releases.json' });
    assert.deepEqual(asked, ['https://fedoraproject.org/releases.json']);
  });

  test('systemrescue: the .sha256 on www.system-rescue.org, the ISO on fastly-cdn.system-rescue.org', async () => {
    const sums = 'https://www.system-rescue.org/releases/12.01/systemrescue-12.01-amd64.iso.sha256';
    const { fetchIndex } = memoryFetcher({ [sums]: `${DIGEST}  systemrescue-12.01-amd64.iso\n` });
    const found = await resolveRelease({ discovery: RECIPES.systemrescue.releases, version: '12.01', mirror: RECIPES.systemrescue.releases.mirror }, fetchIndex);
    assert.equal(found.url, 'https://fastly-cdn.system-rescue.org/releases/12.01/systemrescue-12.01-amd64.iso');
    assert.equal(found.indexUrl, sums);
    assert.equal(found.verifiedBy, 'checksum-https');
    assert.equal(found.digest.value, DIGEST);
  });

  test("gparted and clonezilla: the stable CHECKSUMS.TXT on the project's site, the zip on SourceForge", async () => {
    const cases = [
      { recipe: RECIPES.gparted.releases, list: 'https://gparted.org/gparted-live/stable/CHECKSUMS.TXT', file: 'gparted-live-1.7.0-12-amd64.zip', url: 'https://downloads.sourceforge.net/project/gparted/gparted-live-stable/1.7.0-12/gparted-live-1.7.0-12-amd64.zip' },
      { recipe: RECIPES.clonezilla.releases, list: 'https://clonezilla.org/downloads/stable/data/CHECKSUMS.TXT', file: 'clonezilla-live-1.7.0-12-amd64.zip', url: 'https://downloads.sourceforge.net/project/clonezilla/clonezilla_live_stable/1.7.0-12/clonezilla-live-1.7.0-12-amd64.zip' },
    ];
    for (const { recipe, list, file, url } of cases) {
      const { fetchIndex } = memoryFetcher({ [list]: `### SHA256SUMS:\n${DIGEST}  ${file}\n` });
      const found = await resolveRelease({ discovery: recipe, version: 'latest', mirror: recipe.mirror }, fetchIndex);
      assert.deepEqual(found, { version: '1.7.0-12', url, digest: { algorithm: 'sha256', value: DIGEST }, verifiedBy: 'checksum-https', indexUrl: list });
    }
  });
});
