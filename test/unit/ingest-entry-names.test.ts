import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linkStaysInside, normalizeEntryPath, similarPaths } from '../../src/ingest/entry-names.ts';

describe('archive entry names', () => {
  test('ordinary names are normalised', () => {
    assert.deepEqual(normalizeEntryPath('./boot/vmlinuz'), { ok: true, path: 'boot/vmlinuz' });
    assert.deepEqual(normalizeEntryPath('boot/grub/'), { ok: true, path: 'boot/grub' });
  });

  test('hostile names are refused with the reason', () => {
    const refusals: Array<[string, string]> = [
      ['../etc/passwd', 'dot-segment'],
      ['boot/../../x', 'dot-segment'],
      ['/etc/passwd', 'absolute path'],
      ['boot\\..\\x', 'backslash in the name'],
      ['a\0b', 'nul-byte'],
      ['a//b', 'empty-segment'],
      ['./', 'empty name'],
    ];
    for (const [name, reason] of refusals) assert.deepEqual(normalizeEntryPath(name), { ok: false, reason }, JSON.stringify(name));
  });

  test('symlink targets must stay inside the image folder', () => {
    assert.equal(linkStaysInside('boot/vmlinuz', 'vmlinuz-6.1'), true);
    assert.equal(linkStaysInside('boot/x/vmlinuz', '../vmlinuz-6.1'), true);
    assert.equal(linkStaysInside('boot/vmlinuz', '../../etc/passwd'), false);
    assert.equal(linkStaysInside('vmlinuz', '/boot/vmlinuz'), false);
    assert.equal(linkStaysInside('vmlinuz', ''), false);
  });

  test('similar names: the same file name elsewhere first, then near typos', () => {
    const paths = ['casper/vmlinuz', 'casper/initrd', 'boot/vmlinux', 'README.diskdefines', 'isolinux/isolinux.bin'];
    assert.deepEqual(similarPaths('live/vmlinuz', paths), ['casper/vmlinuz', 'boot/vmlinux']);
    assert.deepEqual(similarPaths('totally-different-name', paths), []);
  });
});
