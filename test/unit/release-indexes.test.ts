import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAlpineReleases, MAX_ALPINE_INDEX_BYTES } from '../../src/ingest/releases/alpine-releases.ts';
import { findArchIso, MAX_ARCH_SUMS_BYTES } from '../../src/ingest/releases/arch-releases.ts';
import { MAX_RELEASE_BYTES, parseDebianRelease } from '../../src/ingest/releases/debian-release.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { timed } from '../support/timed.ts';

const HEX = 'ab'.repeat(32);

// The head of Debian bookworm's Release file (deb.debian.org/debian/dists/bookworm/Release), SHA256 section shortened.
const RELEASE = `Origin: Debian
Label: Debian
Suite: stable
Version: 12.8
Codename: bookworm
Changelogs: https://metadata.ftp-master.debian.org/changelogs/@CHANGEPATH@_changelog
Date: Sat, 09 Nov 2024 10:05:37 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64 armel armhf i386 mips64el mipsel ppc64el s390x
Components: main contrib non-free-firmware non-free
Description: Debian 12.8 Released 09 November 2024
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 ${HEX}   738242 contrib/Contents-all
 ${'cd'.repeat(32)}    2291 main/installer-amd64/current/images/SHA256SUMS
`;

function rejects(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof IngestError && error.code === code && pattern.test(error.message) && !error.message.includes('\n'));
}

describe('Debian Release files', () => {
  test('the fields and SHA256 lines of a real Release head; the MD5Sum section is not taken for SHA256', () => {
    const release = parseDebianRelease(RELEASE, 'R');
    assert.equal(release.suite, 'stable');
    assert.equal(release.codename, 'bookworm');
    assert.equal(release.version, '12.8');
    assert.deepEqual(release.sha256.get('main/installer-amd64/current/images/SHA256SUMS'), { digest: 'cd'.repeat(32), size: 2291 });
    assert.equal(release.sha256.size, 2);
  });

  test('hostile Release files fail with one sentence: too big, no SHA256, broken lines, text after the paragraph ignored', () => {
    rejects(() => timed(() => parseDebianRelease('A'.repeat(MAX_RELEASE_BYTES + 1), 'R'), 50), IngestErrorCode.ReleaseIndex, /larger than 4194304 bytes/);
    rejects(() => parseDebianRelease('Suite: stable\n', 'R'), IngestErrorCode.ReleaseIndex, /has no SHA256 section/);
    rejects(() => parseDebianRelease(`SHA256:\n ${HEX} 12 a b c\n`, 'R'), IngestErrorCode.ReleaseIndex, /malformed SHA256 line/);
    rejects(() => parseDebianRelease(' continuation\n', 'R'), IngestErrorCode.ReleaseIndex, /continuation/);
    rejects(() => parseDebianRelease('no colon here\n', 'R'), IngestErrorCode.ReleaseIndex, /not a field/);
    // A second paragraph (what an attacker appends outside a signature) is not read.
    const appended = parseDebianRelease(`${RELEASE}\nSHA256:\n ${'ee'.repeat(32)} 1 main/installer-amd64/current/images/SHA256SUMS\n`, 'R');
    assert.equal(appended.sha256.get('main/installer-amd64/current/images/SHA256SUMS')?.digest, 'cd'.repeat(32));
  });

  test('40 000 SHA256 lines (about 3.3 MB) parse within 2 s', () => {
    const line = ` ${HEX} 1 p/`;
    const text = `SHA256:\n${Array.from({ length: 40_000 }, (_, i) => `${line}${i}`).join('\n')}\n`;
    assert.ok(text.length < MAX_RELEASE_BYTES);
    assert.equal(timed(() => parseDebianRelease(text, 'R'), 2000).sha256.size, 40_000);
  });
});

describe("Alpine's latest-releases.yaml", () => {
  const INDEX = `---
-
  title: "Netboot"
  desc: "Kernel, initramfs and modloop for netboot"
  profile: netboot
  date: 2024-09-06
  arch: x86_64
  version: 3.20.3
  flavor: alpine-netboot
  file: alpine-netboot-3.20.3-x86_64.tar.gz
  iso: alpine-netboot-3.20.3-x86_64.tar.gz
  size: 232486476
  sha256: ${HEX}
  branch: v3.20
`;
  test('reads flavor, version, file, sha256 and branch', () => {
    assert.deepEqual(parseAlpineReleases(INDEX, 'Y'), [{ flavor: 'alpine-netboot', version: '3.20.3', file: 'alpine-netboot-3.20.3-x86_64.tar.gz', sha256: HEX, branch: 'v3.20' }]);
  });

  test('hostile indexes: too big, not YAML, not a list, a file name with a path, alias bombs', () => {
    rejects(() => parseAlpineReleases('#'.repeat(MAX_ALPINE_INDEX_BYTES + 1), 'Y'), IngestErrorCode.ReleaseIndex, /larger than/);
    rejects(() => parseAlpineReleases('- [unclosed', 'Y'), IngestErrorCode.ReleaseIndex, /is not YAML/);
    rejects(() => parseAlpineReleases('a: 1\n', 'Y'), IngestErrorCode.ReleaseIndex, /not a list/);
    rejects(() => parseAlpineReleases(INDEX.replace('file: alpine', 'file: ../../etc/alpine'), 'Y'), IngestErrorCode.ReleaseIndex, /malformed entry/);
    const bomb = `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`;
    rejects(() => timed(() => parseAlpineReleases(bomb, 'Y'), 1000), IngestErrorCode.ReleaseIndex, /is not YAML|not a list/);
  });
});

describe("Arch's sha256sums.txt", () => {
  test('the dated ISO, not its generic name or the bootstrap tarball', () => {
    const text = `${HEX}  archlinux-2024.12.01-x86_64.iso\n${HEX}  archlinux-x86_64.iso\n${'cd'.repeat(32)}  archlinux-bootstrap-2024.12.01-x86_64.tar.zst\n`;
    assert.deepEqual(findArchIso(text, 'S'), { version: '2024.12.01', file: 'archlinux-2024.12.01-x86_64.iso', sha256: HEX });
  });

  test('lying lists: none, two dated ISOs, too big', () => {
    rejects(() => findArchIso(`${HEX}  archlinux-x86_64.iso\n`, 'S'), IngestErrorCode.ReleaseIndex, /lists no archlinux/);
    rejects(() => findArchIso(`${HEX}  archlinux-2024.12.01-x86_64.iso\n${HEX}  archlinux-2024.11.01-x86_64.iso\n`, 'S'), IngestErrorCode.ReleaseIndex, /several/);
    rejects(() => findArchIso(' '.repeat(MAX_ARCH_SUMS_BYTES + 1), 'S'), IngestErrorCode.ReleaseIndex, /larger than/);
  });
});
