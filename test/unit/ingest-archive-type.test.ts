import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ARCHIVE_HEAD_BYTES, detectArchiveType } from '../../src/ingest/archive-type.ts';

function head(magic: readonly number[] | string, at = 0): Uint8Array {
  const bytes = new Uint8Array(ARCHIVE_HEAD_BYTES);
  bytes.set(typeof magic === 'string' ? [...magic].map((c) => c.charCodeAt(0)) : magic, at);
  return bytes;
}

function v7TarHeader(): Uint8Array {
  const bytes = head('file.txt');
  bytes.set([...'0000644\0'].map((c) => c.charCodeAt(0)), 100);
  bytes.fill(0x20, 148, 156);
  const sum = bytes.subarray(0, 512).reduce((a, b) => a + b, 0);
  bytes.set([...`${sum.toString(8).padStart(6, '0')}\0 `].map((c) => c.charCodeAt(0)), 148);
  return bytes;
}

describe('archive type detection', () => {
  test('by magic bytes', () => {
    assert.equal(detectArchiveType(head('CD001', 32769)), 'iso9660');
    assert.equal(detectArchiveType(head([0x50, 0x4b, 0x03, 0x04])), 'zip');
    assert.equal(detectArchiveType(head([0x1f, 0x8b, 0x08])), 'gzip');
    assert.equal(detectArchiveType(head([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectArchiveType(head([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(detectArchiveType(head('BZh9')), 'bzip2');
    assert.equal(detectArchiveType(head('ustar', 257)), 'tar');
    assert.equal(detectArchiveType(v7TarHeader()), 'tar');
  });

  test('a hybrid ISO (MBR first, CD001 at sector 16) is an ISO, not a single file', () => {
    const bytes = head('CD001', 32769);
    bytes.set([0x33, 0xed], 0);
    bytes.set([0x55, 0xaa], 510);
    assert.equal(detectArchiveType(bytes), 'iso9660');
  });

  test('anything else, and short files, are single files', () => {
    assert.equal(detectArchiveType(head('MZ')), 'single');
    assert.equal(detectArchiveType(new Uint8Array([0x50, 0x4b])), 'single');
    assert.equal(detectArchiveType(new Uint8Array(0)), 'single');
    const corrupted = v7TarHeader();
    corrupted[0] = 0x41;
    assert.equal(detectArchiveType(corrupted), 'single', 'a v7 header with a wrong checksum is not a tar');
  });
});
