// The Packages index reader: one package's paragraph found in an index as Debian writes it (a real bookworm
// paragraph of memtest86+), and hostile indexes (missing fields, traversal in Filename, duplicates, huge paragraphs)
// refused with one sentence, within a time bound.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { filenameProblem, findDebianPackage, MAX_PARAGRAPH_BYTES } from '../../src/ingest/releases/debian-packages.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';

// memtest86+'s paragraph in bookworm's main/binary-amd64/Packages (deb.debian.org, December 2026), Description cut.
const MEMTEST = `Package: memtest86+
Version: 6.10-4
Installed-Size: 12697
Maintainer: Yann Dirson <dirson@debian.org>
Architecture: amd64
Suggests: hwtools, memtester, kernel-patch-badram, grub2 (>= 1.96+20090523-1) | grub (>= 0.95+cvs20040624), mtools
Description: stand-alone memory tester for x86 and x86-64
Homepage: https://www.memtest.org/
Description-md5: 5d3ea0e36d64d8e5bd6ea1e3e2dd2bbc
Tag: admin::benchmarking, admin::boot, hardware::storage, implemented-in::c,
 interface::text-mode, role::program, scope::utility
Section: misc
Priority: optional
Filename: pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb
Size: 122832
MD5sum: 0e1e2ac9f04bfa4d4c41e1d0ab2fb5a4
SHA256: 1c36f8e1da1b0e6e4a9fe4d2e7a1b0d6f0f1ab0e6a0d3e1c4a6f2b7d8e9f0a1b
`;

const OTHER = (name: string): string => `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/main/${name[0]}/${name}/${name}_1.0-1_amd64.deb\nSize: 10\nSHA256: ${'a'.repeat(64)}\n`;

function index(...paragraphs: string[]): Uint8Array {
  return Buffer.from(paragraphs.join('\n'));
}

function refusal(bytes: Uint8Array, name = 'memtest86+'): IngestError {
  try {
    findDebianPackage(bytes, name, 'http://mirror/dists/bookworm/main/binary-amd64/Packages.gz');
  } catch (error) {
    assert.ok(error instanceof IngestError, String(error));
    return error;
  }
  assert.fail('the index was accepted');
}

describe('Packages index', () => {
  test('finds the package between others, at the start and at the end, without a final newline', () => {
    const expected = { name: 'memtest86+', version: '6.10-4', filename: 'pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb', size: 122832, sha256: '1c36f8e1da1b0e6e4a9fe4d2e7a1b0d6f0f1ab0e6a0d3e1c4a6f2b7d8e9f0a1b' };
    for (const bytes of [index(OTHER('memtest86'), MEMTEST, OTHER('memtester')), index(MEMTEST, OTHER('zsh')), index(OTHER('abc'), MEMTEST.trimEnd())]) {
      assert.deepEqual(findDebianPackage(bytes, 'memtest86+', 'Packages'), expected);
    }
  });

  test('a name that is only a prefix or suffix of another package does not match it', () => {
    const error = refusal(index(OTHER('memtest86+-extra'), OTHER('xmemtest86+')));
    assert.equal(error.code, IngestErrorCode.ReleaseNotFound);
    assert.match(error.message, /does not list memtest86\+/);
  });

  test('a paragraph whose Package field is not first is read whole', () => {
    const reordered = `Version: 7.20-1\n${MEMTEST.replace('Version: 6.10-4\n', '')}`;
    assert.equal(findDebianPackage(index(OTHER('a'), reordered), 'memtest86+', 'Packages').version, '7.20-1');
  });

  test('missing fields, bad values and duplicates are refused, naming the index', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['no Filename', MEMTEST.replace(/^Filename: .*\n/m, ''), /has no Filename for memtest86\+/],
      ['no SHA256 nor Size', MEMTEST.replace(/^SHA256: .*\n/m, '').replace(/^Size: .*\n/m, ''), /has no Size, SHA256/],
      ['a short SHA256', MEMTEST.replace(/^SHA256: (.*)$/m, 'SHA256: abcd'), /not 64 hex digits/],
      ['a size of zero', MEMTEST.replace(/^Size: .*$/m, 'Size: 0'), /the size "0"/],
      ['a size in words', MEMTEST.replace(/^Size: .*$/m, 'Size: big'), /the size "big"/],
      ['a huge size', MEMTEST.replace(/^Size: .*$/m, 'Size: 99999999999'), /the size/],
      ['a version with a space', MEMTEST.replace(/^Version: .*$/m, 'Version: 6.10 4'), /not a Debian version/],
      ['a field twice', MEMTEST.replace(/^Size: .*$/m, 'Size: 1\nSize: 2'), /field "Size" twice/],
      ['a line that is no field', MEMTEST.replace('Section: misc', 'Section misc'), /not a field/],
    ];
    for (const [what, paragraph, message] of cases) {
      const error = refusal(index(OTHER('a'), paragraph));
      assert.equal(error.code, IngestErrorCode.ReleaseIndex, what);
      assert.match(error.message, message, what);
      assert.match(error.message, /Packages\.gz/, `${what}: names the index`);
    }
    assert.match(refusal(index(MEMTEST, OTHER('b'), MEMTEST)).message, /lists memtest86\+ more than once/);
  });

  test('a Filename that would leave the mirror or is not a plain pool path is refused', () => {
    for (const filename of [
      '../../../etc/passwd.deb',
      'pool/main/m/../../../x.deb',
      '/pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb',
      'pool//main/x.deb',
      'pool/./main/x.deb',
      'https://evil.example/x.deb',
      'pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb?x=1.deb',
      'pool/main/m/memtest86+/memtest86+%2f..%2fx.deb',
      'pool/main/m/memtest86+/memtest86+_6.10-4_amd64.exe',
      'pool/main/m/memtest86+/memtest\\x.deb',
      `pool/${'a'.repeat(1100)}.deb`,
    ]) {
      assert.notEqual(filenameProblem(filename), undefined, filename);
      const error = refusal(index(MEMTEST.replace(/^Filename: .*$/m, `Filename: ${filename}`)));
      assert.equal(error.code, IngestErrorCode.ReleaseIndex, filename);
    }
    assert.equal(filenameProblem('pool/main/m/memtest86+/memtest86+_7.20-1~bpo12+1_amd64.deb'), undefined);
  });

  test('a huge paragraph is refused; a 60 MB index is searched within a time bound', () => {
    const huge = MEMTEST.replace('Section: misc', `Section: misc\n${' x'.repeat(MAX_PARAGRAPH_BYTES)}`);
    assert.match(refusal(index(huge)).message, /longer than/);
    // No blank line anywhere: one 60 MB "paragraph" holding the package is refused by its size, not parsed.
    const noBlankLines = Buffer.alloc(60 * 1024 * 1024, 'Foo: bar\n');
    noBlankLines.write('\nPackage: memtest86+\n', 30 * 1024 * 1024);
    const many = Buffer.concat([Buffer.alloc(60 * 1024 * 1024, `${OTHER('filler')}\n`), Buffer.from(`\n\n${MEMTEST}`)]);
    let started = performance.now();
    assert.match(refusal(noBlankLines).message, /longer than/);
    const refused = performance.now() - started;
    started = performance.now();
    assert.equal(findDebianPackage(many, 'memtest86+', 'Packages').version, '6.10-4');
    const found = performance.now() - started;
    // Debian's real index (57 MB) takes about 20 ms here; the bound leaves room for a slow CI machine, and fails a
    // search that decodes or splits the whole index.
    assert.ok(refused < 1000 && found < 1000, `searching took ${Math.round(refused)} ms and ${Math.round(found)} ms`);
  });

  test('a name that is not a Debian package name is a programming error, not a search', () => {
    assert.throws(() => findDebianPackage(index(MEMTEST), 'Memtest 86', 'Packages'), /not a Debian package name/);
  });
});
