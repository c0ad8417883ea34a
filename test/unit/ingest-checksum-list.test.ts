import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findListedDigest, parseChecksumList, pathBelowList } from '../../src/ingest/checksum-list.ts';

const SHA256 = 'a'.repeat(64);
const SHA512 = 'b'.repeat(128);
const MD5 = 'C'.repeat(32);

describe('checksum lists', () => {
  test('text mode, binary mode, BSD style; the algorithm comes from the digest length', () => {
    const text = [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      `${SHA256}  debian-12.iso`,
      `${SHA512} *debian-12-dvd.iso`,
      `MD5 (memtest.bin) = ${MD5}`,
      '# comment',
      'deadbeef  too-short.iso',
      '',
    ].join('\r\n');
    assert.deepEqual(parseChecksumList(text), [
      { name: 'debian-12.iso', digest: { algorithm: 'sha256', value: SHA256 } },
      { name: 'debian-12-dvd.iso', digest: { algorithm: 'sha512', value: SHA512 } },
      { name: 'memtest.bin', digest: { algorithm: 'md5', value: MD5.toLowerCase() } },
    ]);
  });

  test('the exact name wins over a path that ends with it; ./ prefixes are ignored; absent is undefined', () => {
    const text = `${'1'.repeat(64)}  old/x.iso\n${'2'.repeat(64)}  ./x.iso\n${'3'.repeat(64)}  sub/y.iso\n`;
    assert.equal(findListedDigest(text, 'x.iso')?.value, '2'.repeat(64));
    assert.equal(findListedDigest(text, 'y.iso')?.value, '3'.repeat(64));
    assert.equal(findListedDigest(text, 'z.iso'), undefined);
  });

  test("the archive's path below the list's folder wins: Debian's SHA256SUMS names the gtk netboot.tar.gz first", () => {
    const text = `${'1'.repeat(64)}  ./netboot/gtk/netboot.tar.gz\n${'2'.repeat(64)}  ./netboot/netboot.tar.gz\n`;
    const images = 'https://deb.debian.org/debian/dists/trixie/main/installer-amd64/current/images/';
    const below = pathBelowList(`${images}netboot/netboot.tar.gz`, `${images}SHA256SUMS`);
    assert.equal(below, 'netboot/netboot.tar.gz');
    assert.equal(findListedDigest(text, 'netboot.tar.gz', below)?.value, '2'.repeat(64));
    assert.equal(findListedDigest(text, 'netboot.tar.gz', pathBelowList(`${images}netboot/gtk/netboot.tar.gz`, `${images}SHA256SUMS`))?.value, '1'.repeat(64));
    assert.equal(pathBelowList('https://other.example/images/netboot/netboot.tar.gz', `${images}SHA256SUMS`), undefined, 'another host');
    assert.equal(pathBelowList(`${images}../netboot.tar.gz`, `${images}SHA256SUMS`), undefined, 'above the folder');
  });

  test('a BSD line whose digest length does not fit its algorithm is ignored', () => {
    assert.deepEqual(parseChecksumList(`SHA256 (x.iso) = ${MD5}`), []);
  });
});
