// The pure parsers of Fedora's releases.json, SystemRescue's per-release .sha256 and the DRBL projects' CHECKSUMS.TXT,
// with the layouts the projects publish and with hostile input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FEDORA_INDEX_BYTES, parseFedoraReleases, pickFedoraIso, type FedoraImage } from '../../src/ingest/releases/fedora-releases.ts';
import { checksumsTxtSha256, MAX_CHECKSUMS_TXT_BYTES, MAX_SIDECAR_BYTES, sidecarSha256, stableRelease } from '../../src/ingest/releases/release-checksums.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { timed } from '../support/timed.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const WORKSTATION = { arch: 'x86_64', variant: 'Workstation', subvariant: 'Workstation' };
const DL = 'https://download.fedoraproject.org/pub/fedora/linux';

function rejects(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof IngestError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/, 'one sentence on one line');
    return true;
  });
}

// The shape of fedoraproject.org/releases.json: one object per image, version a string ("44 Beta" for a beta), size a
// string of digits; Workstation sits beside other editions, spins (variant Spins), other architectures and betas.
function entry(version: string, link: string, sha256: string | undefined, overrides: Partial<FedoraImage> = {}): Record<string, unknown> {
  return { version, arch: 'x86_64', variant: 'Workstation', subvariant: 'Workstation', link, ...(sha256 ? { sha256 } : {}), size: '2851612672', ...overrides };
}
const INDEX = [
  entry('44', `${DL}/releases/44/Cloud/x86_64/images/Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2`, C, { variant: 'Cloud', subvariant: 'Cloud_Base' }),
  entry('43', `${DL}/releases/43/Workstation/x86_64/iso/Fedora-Workstation-Live-43-1.6.x86_64.iso`, B),
  entry('44', `${DL}/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-44-1.7.x86_64.iso`, A),
  entry('44', `${DL}/releases/44/Workstation/aarch64/images/Fedora-Workstation-44-1.7.aarch64.raw.xz`, C, { arch: 'aarch64' }),
  entry('44', `${DL}/releases/44/Spins/x86_64/iso/Fedora-KDE-Live-44-1.7.x86_64.iso`, C, { variant: 'Spins', subvariant: 'KDE' }),
  entry('45 Beta', `${DL}/releases/test/45_Beta/Workstation/x86_64/iso/Fedora-Workstation-Live-45_Beta-1.2.x86_64.iso`, C),
  entry('Rawhide', `${DL}/development/rawhide/Workstation/x86_64/iso/Fedora-Workstation-Live-Rawhide.x86_64.iso`, C),
  { version: 44, arch: 'x86_64', note: 'not an image' },
  'not an object',
];

describe("Fedora's releases.json", () => {
  test('latest is the highest release with a Workstation live ISO for x86_64; betas, Rawhide, spins and other architectures are left out', () => {
    const images = parseFedoraReleases(JSON.stringify(INDEX), 'R');
    assert.equal(images.length, 7, 'entries without the string fields of an image are skipped');
    assert.deepEqual(pickFedoraIso(images, WORKSTATION, 'latest', 'R'), { version: '44', link: `${DL}/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-44-1.7.x86_64.iso`, sha256: A });
    assert.equal(pickFedoraIso(images, WORKSTATION, '43', 'R')?.sha256, B);
    assert.equal(pickFedoraIso(images, WORKSTATION, '42', 'R'), undefined, 'a release the index no longer lists');
    assert.equal(pickFedoraIso(images, WORKSTATION, '45', 'R'), undefined, 'only a beta of 45');
    assert.equal(pickFedoraIso(images, { ...WORKSTATION, variant: 'Spins', subvariant: 'KDE' }, 'latest', 'R')?.sha256, C);
    assert.equal(pickFedoraIso([], WORKSTATION, 'latest', 'R'), undefined);
  });

  test('the ISO name of Fedora 41 and older (Fedora-Workstation-Live-x86_64-41-1.4.iso) is a live ISO too', () => {
    const images = parseFedoraReleases(JSON.stringify([entry('41', `${DL}/releases/41/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-41-1.4.iso`, A.toUpperCase())]), 'R');
    assert.deepEqual(pickFedoraIso(images, WORKSTATION, 'latest', 'R'), { version: '41', link: `${DL}/releases/41/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-41-1.4.iso`, sha256: A });
  });

  test('hostile indexes: too big (within 50 ms), not JSON, not a list, too many entries', () => {
    rejects(() => timed(() => parseFedoraReleases(' '.repeat(MAX_FEDORA_INDEX_BYTES + 1), 'R'), 50), IngestErrorCode.ReleaseIndex, /larger than 2097152 bytes/);
    rejects(() => parseFedoraReleases('[{"version": "44",', 'R'), IngestErrorCode.ReleaseIndex, /is not JSON/);
    rejects(() => parseFedoraReleases('{"version": "44"}', 'R'), IngestErrorCode.ReleaseIndex, /is not a list of images/);
    rejects(() => parseFedoraReleases(`[${Array.from({ length: 20_001 }, () => '0').join(',')}]`, 'R'), IngestErrorCode.ReleaseIndex, /more than 20000 images/);
  });

  test('lying entries: no or a malformed sha256, links with .., a query, credentials or no host, two different ISOs for one release', () => {
    const pick = (...entries: Array<Record<string, unknown>>): unknown => pickFedoraIso(parseFedoraReleases(JSON.stringify(entries), 'R'), WORKSTATION, 'latest', 'R');
    const good = `${DL}/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-44-1.7.x86_64.iso`;
    rejects(() => pick(entry('44', good, undefined)), IngestErrorCode.ReleaseIndex, /gives no sha256 for the Workstation ISO of Fedora 44/);
    rejects(() => pick(entry('44', good, 'z'.repeat(64))), IngestErrorCode.ReleaseIndex, /gives no sha256/);
    for (const link of [
      `${DL}/releases/44/../../../../etc/Fedora-Workstation-Live-44.iso`,
      `${DL}/releases/44/Fedora-Workstation-Live-44..iso`,
      `${DL}/releases/%2e%2e/%2E%2E/Fedora-Workstation-Live-44.iso`,
      `${DL}/x?a=/Fedora-Workstation-Live-44.iso`,
      'https://user:pw@download.fedoraproject.org/Fedora-Workstation-Live-44.iso',
      'file:///Fedora-Workstation-Live-44.iso',
      'Fedora-Workstation-Live-44.iso',
      `${DL}/Fedora-Workstation-Live-44 1.iso`,
    ]) {
      rejects(() => pick(entry('44', link, A)), IngestErrorCode.ReleaseIndex, /malformed link/);
    }
    rejects(() => pick(entry('44', good, A), entry('44', good.replace('1.7', '1.8'), B)), IngestErrorCode.ReleaseIndex, /several different Workstation ISOs for Fedora 44/);
    rejects(() => pick(entry('44', good, A), entry('44', good, B)), IngestErrorCode.ReleaseIndex, /several different/);
    assert.deepEqual(pick(entry('44', good, A), entry('44', good, A)), { version: '44', link: good, sha256: A }, 'an entry listed twice alike is one ISO');
  });
});

describe("SystemRescue's <iso>.sha256", () => {
  const FILE = 'systemrescue-12.01-amd64.iso';
  test('the sha256sum line for the ISO, text or binary mode', () => {
    assert.equal(sidecarSha256(`${A}  ${FILE}\n`, FILE, 'S'), A);
    assert.equal(sidecarSha256(`${A.toUpperCase()} *${FILE}\r\n`, FILE, 'S'), A);
    assert.equal(sidecarSha256(`${A}  ${FILE}\n${A}  ${FILE}\n`, FILE, 'S'), A, 'the same line twice');
  });

  test('lying files: another name (a path, ..), two digests, an md5, too big', () => {
    rejects(() => sidecarSha256(`${A}  systemrescue-12.00-amd64.iso\n`, FILE, 'S'), IngestErrorCode.ReleaseIndex, /gives no sha256 for systemrescue-12\.01-amd64\.iso/);
    rejects(() => sidecarSha256(`${A}  ../${FILE}\n${A}  sub/${FILE}\n`, FILE, 'S'), IngestErrorCode.ReleaseIndex, /gives no sha256/);
    rejects(() => sidecarSha256(`${'d'.repeat(32)}  ${FILE}\n`, FILE, 'S'), IngestErrorCode.ReleaseIndex, /gives no sha256/);
    rejects(() => sidecarSha256(`${A}  ${FILE}\n${B}  ${FILE}\n`, FILE, 'S'), IngestErrorCode.ReleaseIndex, /several sha256/);
    rejects(() => sidecarSha256(`${A}  ${FILE}\n${' '.repeat(MAX_SIDECAR_BYTES)}`, FILE, 'S'), IngestErrorCode.ReleaseIndex, /larger than 4096 bytes/);
  });
});

describe('the DRBL projects\' CHECKSUMS.TXT (GParted Live, Clonezilla live)', () => {
  // The layout of gparted.org/gparted-live/stable/CHECKSUMS.TXT: one heading per algorithm; BLAKE2b lines are as long as
  // SHA-512 ones.
  const list = (version: string, sha256: string): string =>
    [
      '### MD5SUMS:',
      `${'1'.repeat(32)}  gparted-live-${version}-amd64.iso`,
      `${'2'.repeat(32)}  gparted-live-${version}-amd64.zip`,
      '',
      '### SHA1SUMS:',
      `${'3'.repeat(40)}  gparted-live-${version}-amd64.zip`,
      '',
      '### SHA256SUMS:',
      `${C}  gparted-live-${version}-amd64.iso`,
      `${sha256}  gparted-live-${version}-amd64.zip`,
      '',
      '### SHA512SUMS:',
      `${'4'.repeat(128)}  gparted-live-${version}-amd64.zip`,
      '',
      '### B2SUMS:',
      `${'5'.repeat(128)}  gparted-live-${version}-amd64.zip`,
      '',
    ].join('\n');

  test('only the lines under SHA256SUMS are read; the stable zip and its version come from its name', () => {
    assert.deepEqual(checksumsTxtSha256(list('1.7.0-12', A), 'L'), [
      { name: 'gparted-live-1.7.0-12-amd64.iso', sha256: C },
      { name: 'gparted-live-1.7.0-12-amd64.zip', sha256: A },
    ]);
    assert.deepEqual(stableRelease(list('1.7.0-12', A), 'gparted-live-', '-amd64.zip', 'L'), { version: '1.7.0-12', file: 'gparted-live-1.7.0-12-amd64.zip', sha256: A });
    assert.deepEqual(stableRelease(list('3.3.0-33', B).replaceAll('gparted-live-', 'clonezilla-live-'), 'clonezilla-live-', '-amd64.zip', 'L').version, '3.3.0-33');
  });

  test('a 64-hex line outside SHA256SUMS is not taken for a sha256', () => {
    const moved = list('1.7.0-12', A).replace('### SHA256SUMS:', '### SHA3SUMS:');
    rejects(() => stableRelease(moved, 'gparted-live-', '-amd64.zip', 'L'), IngestErrorCode.ReleaseIndex, /lists no gparted-live-<version>-amd64\.zip under SHA256SUMS/);
  });

  test('lying lists: two releases, two digests for one file, a version with a path or .., too big', () => {
    const two = `${list('1.7.0-12', A)}### SHA256SUMS:\n${B}  gparted-live-1.6.0-3-amd64.zip\n`;
    rejects(() => stableRelease(two, 'gparted-live-', '-amd64.zip', 'L'), IngestErrorCode.ReleaseIndex, /lists several gparted-live-<version>-amd64\.zip files/);
    const twice = `${list('1.7.0-12', A)}### SHA256SUMS:\n${B}  gparted-live-1.7.0-12-amd64.zip\n`;
    rejects(() => stableRelease(twice, 'gparted-live-', '-amd64.zip', 'L'), IngestErrorCode.ReleaseIndex, /several sha256 for gparted-live-1\.7\.0-12-amd64\.zip/);
    for (const version of ['../../etc/1.7.0-12', '1.7.0-12/x', '1.7..0-12', 'latest']) {
      rejects(() => stableRelease(list(version, A), 'gparted-live-', '-amd64.zip', 'L'), IngestErrorCode.ReleaseIndex, /whose version is not a release number/);
    }
    rejects(() => timed(() => stableRelease('#'.repeat(MAX_CHECKSUMS_TXT_BYTES + 1), 'gparted-live-', '-amd64.zip', 'L'), 50), IngestErrorCode.ReleaseIndex, /larger than 65536 bytes/);
  });
});
