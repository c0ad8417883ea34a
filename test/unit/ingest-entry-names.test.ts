import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeEntryPath, similarPaths } from '../../src/ingest/entry-names.ts';

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

  test('similar names: the same file name elsewhere first, then near typos', () => {
    const paths = ['casper/vmlinuz', 'casper/initrd', 'boot/vmlinux', 'README.diskdefines', 'isolinux/isolinux.bin'];
    assert.deepEqual(similarPaths('live/vmlinuz', paths), ['casper/vmlinuz', 'boot/vmlinux']);
    assert.deepEqual(similarPaths('totally-different-name', paths), []);
  });
});
