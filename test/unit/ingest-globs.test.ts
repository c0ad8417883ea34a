import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMatcher, matchGlob } from '../../src/ingest/globs.ts';
import { resolveRenames } from '../../src/ingest/renames.ts';

describe('extract globs', () => {
  const cases: Array<[string, string, boolean]> = [
    ['isolinux/rescue64', 'isolinux/rescue64', true],
    ['isolinux/rescue64', 'isolinux/rescue6', false],
    ['sysrcd.*', 'sysrcd.dat', true],
    ['sysrcd.*', 'boot/sysrcd.dat', false],
    ['*.iso', 'a/b.iso', false],
    ['**/vmlinuz', 'vmlinuz', true],
    ['**/vmlinuz', 'casper/x/vmlinuz', true],
    ['casper/**', 'casper/x/initrd', true],
    ['casper/**', 'casperx/initrd', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/x/y/bb', false],
    ['initrd-?.img', 'initrd-1.img', true],
    ['initrd-?.img', 'initrd-10.img', false],
    ['initrd-?.img', 'initrd-/.img', false],
    ['Live/*', 'live/vmlinuz', false],
    ['a+b(c)[d].$x', 'a+b(c)[d].$x', true],
    ['a+b(c)[d].$x', 'a+b(c)[d]x$x', false],
  ];
  for (const [pattern, path, expected] of cases) {
    test(`${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
      assert.equal(matchGlob(pattern, path), expected);
    });
  }

  test('a literal pattern naming a folder takes everything below it; a wildcard one does not', () => {
    const matcher = compileMatcher(['live', 'boot/*']);
    assert.equal(matcher.matches('live/vmlinuz'), true);
    assert.equal(matcher.matches('live/x/y'), true);
    assert.equal(matcher.matches('livex/vmlinuz'), false);
    assert.equal(matcher.matches('boot/grub'), true);
    assert.equal(matcher.matches('boot/grub/grub.cfg'), false, 'boot/* must not take what is below boot/grub');
  });
});

describe('renames', () => {
  const paths = new Set(['boot/vmlinuz-6.1.0', 'boot/initrd.img-6.1.0', 'boot/memtest', 'efi/a.efi', 'efi/b.efi']);

  test('a target the archive has stays as it is; otherwise the one glob match is moved to it', () => {
    const result = resolveRenames({ 'boot/memtest': 'boot/memtest*', 'vmlinuz': 'boot/vmlinuz-*', 'initrd.img': 'boot/initrd.img-*' }, paths);
    assert.deepEqual(result.moves, [
      { target: 'vmlinuz', source: 'boot/vmlinuz-6.1.0' },
      { target: 'initrd.img', source: 'boot/initrd.img-6.1.0' },
    ]);
    assert.deepEqual(result.ambiguous, []);
  });

  test('several matches are ambiguous, none is left to the missing-file check', () => {
    const result = resolveRenames({ 'boot.efi': 'efi/*.efi', 'absent': 'nothing-*' }, paths);
    assert.deepEqual(result.moves, []);
    assert.deepEqual(result.ambiguous, [{ target: 'boot.efi', glob: 'efi/*.efi', matches: ['efi/a.efi', 'efi/b.efi'] }]);
  });

  test('a list of globs (one per archive layout) takes the one file any of them matches', () => {
    const renames = { 'memtest64.bin': ['boot/floppy.img', 'boot/memtest86+x64.bin'] };
    const iso = resolveRenames(renames, new Set(['boot/floppy.img', 'EFI/BOOT/bootx64.efi']));
    assert.deepEqual(iso, { moves: [{ target: 'memtest64.bin', source: 'boot/floppy.img' }], ambiguous: [] });
    const deb = resolveRenames(renames, new Set(['boot/memtest86+x64.bin', 'boot/memtest86+ia32.bin']));
    assert.deepEqual(deb, { moves: [{ target: 'memtest64.bin', source: 'boot/memtest86+x64.bin' }], ambiguous: [] });
    // "+" is a literal character in a glob, not a regular-expression quantifier.
    assert.deepEqual(resolveRenames(renames, new Set(['boot/memtest86x64.bin'])), { moves: [], ambiguous: [] });
  });

  test('files matching two different globs of one target are ambiguous too', () => {
    const result = resolveRenames({ 'memtest64.bin': ['boot/floppy.img', 'boot/memtest86+x64.bin'] }, new Set(['boot/floppy.img', 'boot/memtest86+x64.bin']));
    assert.deepEqual(result.moves, []);
    assert.deepEqual(result.ambiguous, [{ target: 'memtest64.bin', glob: 'boot/floppy.img or boot/memtest86+x64.bin', matches: ['boot/floppy.img', 'boot/memtest86+x64.bin'] }]);
  });
});
