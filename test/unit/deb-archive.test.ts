// The .deb codec: ar member headers, deb(5)'s member order, and the walk to data.tar, on packages built here byte by
// byte; hostile ones (cut short, sizes past the end, odd names, too many members) fail with a DebArchiveError, and
// random damage never makes the walk throw anything else.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { detectArchiveType } from '../../src/ingest/archive-type.ts';
import { AR_HEADER_BYTES, DebArchiveError, decodeArMemberHeader, locateDebData, MAX_DEB_MEMBERS } from '../../src/ingest/deb-archive.ts';
import { memorySource } from '../support/iso-fixtures.ts';

type Member = { name: string; content: string | Buffer; size?: string; terminator?: string };

// ar(5): "!<arch>\n", then per member name 16, mtime 12, uid 6, gid 6, mode 8, size 10, "`\n", data padded to even.
function ar(members: readonly Member[]): Buffer {
  const parts = [Buffer.from('!<arch>\n')];
  for (const member of members) {
    const content = Buffer.from(member.content);
    const field = (value: string, width: number): string => value.padEnd(width, ' ').slice(0, width);
    parts.push(Buffer.from(field(member.name, 16) + field('0', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(member.size ?? String(content.length), 10) + (member.terminator ?? '`\n'), 'latin1'));
    parts.push(content);
    if (content.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

const DEB: readonly Member[] = [
  { name: 'debian-binary', content: '2.0\n' },
  { name: 'control.tar.xz', content: 'control bytes' },
  { name: 'data.tar.xz', content: 'data bytes, odd length' },
];

async function locate(bytes: Buffer): Promise<Awaited<ReturnType<typeof locateDebData>>> {
  return locateDebData(memorySource(bytes));
}

async function refusal(bytes: Buffer): Promise<DebArchiveError> {
  try {
    await locate(bytes);
  } catch (error) {
    assert.ok(error instanceof DebArchiveError, `a DebArchiveError, not ${String(error)}`);
    return error;
  }
  assert.fail('the package was accepted');
}

describe('deb archive codec', () => {
  test('finds data.tar of a package as dpkg-deb writes it, with its compression and exact byte range', async () => {
    const bytes = ar(DEB);
    assert.equal(detectArchiveType(bytes), 'deb');
    const { member, compression } = await locate(bytes);
    assert.equal(compression, 'xz');
    assert.equal(member.name, 'data.tar.xz');
    assert.equal(bytes.subarray(member.dataOffset, member.dataOffset + member.size).toString(), 'data bytes, odd length');
  });

  test('every data.tar compression deb(5) names; names with the GNU trailing "/"; "_" members before data.tar are skipped', async () => {
    for (const [name, compression] of [['data.tar', 'none'], ['data.tar.gz', 'gzip'], ['data.tar.zst', 'zstd'], ['data.tar.bz2', 'bzip2'], ['data.tar.lzma', 'lzma']] as const) {
      assert.equal((await locate(ar([DEB[0]!, DEB[1]!, { name, content: 'x' }]))).compression, compression, name);
    }
    const slashed = ar([{ name: 'debian-binary/', content: '2.0\n' }, { name: 'control.tar.gz/', content: 'c' }, { name: 'data.tar.gz/', content: 'd' }]);
    assert.equal((await locate(slashed)).member.name, 'data.tar.gz');
    const signed = ar([DEB[0]!, { name: '_gpgbuilder', content: 'sig' }, DEB[1]!, DEB[2]!]);
    assert.equal((await locate(signed)).member.name, 'data.tar.xz');
  });

  test('an ar file that is not a package is not detected as one', () => {
    assert.equal(detectArchiveType(ar([{ name: 'libfoo.o', content: 'x' }])), 'single');
  });

  test('hostile and broken packages are refused with the byte where they go wrong', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['cut inside a header', ar(DEB).subarray(0, 8 + 30), /cut short/],
      ['cut inside data.tar', ar(DEB).subarray(0, ar(DEB).length - 4), /file ends/],
      ['a size past the end of the file', ar([DEB[0]!, DEB[1]!, { name: 'data.tar.xz', content: 'd', size: '999999999' }]), /999999999 bytes long/],
      ['a size that is not decimal', ar([DEB[0]!, { name: 'control.tar.xz', content: 'c', size: '0x10' }]), /not a decimal number/],
      ['a negative size', ar([DEB[0]!, { name: 'control.tar.xz', content: 'c', size: '-1' }]), /not a decimal number/],
      ['a wrong header terminator', ar([{ ...DEB[0]!, terminator: 'XX' }]), /does not end/],
      ['a name with a slash inside', ar([DEB[0]!, { name: '../etc/passwd', content: 'c' }]), /not one a Debian package has/],
      ['a name with control characters', ar([DEB[0]!, { name: 'control\u0001tar', content: 'c' }]), /not one a Debian package has/],
      ['no data.tar (control.tar last)', ar([DEB[0]!, DEB[1]!]), /ends before its data\.tar/],
      ['data.tar before control.tar', ar([DEB[0]!, DEB[2]!, DEB[1]!]), /second ar member is data\.tar\.xz/],
      ['another member third', ar([DEB[0]!, DEB[1]!, { name: 'evil.tar', content: 'x' }]), /third ar member is evil\.tar/],
      ['debian-binary not first', ar([DEB[1]!, DEB[0]!, DEB[2]!]), /first ar member is control\.tar\.xz/],
      ['an underscore member first', ar([{ name: '_x', content: 'x' }, ...DEB]), /first ar member is _x/],
      ['format 3.0', ar([{ name: 'debian-binary', content: '3.0\n' }, DEB[1]!, DEB[2]!]), /format "3\.0"/],
      ['too many members', ar([DEB[0]!, ...Array.from({ length: MAX_DEB_MEMBERS + 2 }, (_, i) => ({ name: `_m${i}`, content: 'x' }))]), /more than 8 ar members/],
      ['no ar magic', Buffer.from('!<arxh>\ndebian-binary   '), /ar magic/],
    ];
    for (const [what, bytes, message] of cases) {
      const error = await refusal(bytes);
      assert.match(error.message, message, what);
      assert.ok(error.offset >= 0 && error.offset <= bytes.length, `${what}: offset ${error.offset} inside the file`);
    }
  });

  test('a header is exactly 60 bytes and its size is checked against the file', () => {
    const header = ar([DEB[0]!]).subarray(8, 8 + AR_HEADER_BYTES);
    assert.deepEqual(decodeArMemberHeader(header, 8, 8 + 60 + 4), { name: 'debian-binary', dataOffset: 68, size: 4, next: 72 });
    assert.throws(() => decodeArMemberHeader(header, 8, 8 + 60 + 3), DebArchiveError);
    assert.throws(() => decodeArMemberHeader(header.subarray(0, 59), 8, 1000), /cut short/);
  });

  test('random damage to a package: the walk finds data.tar or throws a DebArchiveError, never anything else', async () => {
    const pristine = ar(DEB);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ at: fc.integer({ min: 0, max: pristine.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: pristine.length }), async (changes, cut) => {
        const bytes = Buffer.from(pristine.subarray(0, Math.max(cut, 8)));
        for (const { at, value } of changes) if (at < bytes.length) bytes[at] = value;
        try {
          const { member } = await locate(bytes);
          assert.ok(member.dataOffset + member.size <= bytes.length, 'data.tar lies inside the file');
        } catch (error) {
          if (!(error instanceof DebArchiveError)) throw error;
        }
      }),
      { numRuns: 2000, seed: 17 },
    );
  });
});
