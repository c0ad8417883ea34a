import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafeFile, splitPlainPath, splitUrlPath, type PathRefusal } from '../../src/files/safe-path.ts';

describe('splitUrlPath', () => {
  test('splits and decodes a clean path', () => {
    assert.deepEqual(splitUrlPath('casper/vmlinuz'), { ok: true, segments: ['casper', 'vmlinuz'] });
    assert.deepEqual(splitUrlPath('a%20b/%C3%BC.img'), { ok: true, segments: ['a b', 'ü.img'] });
    assert.deepEqual(splitUrlPath('...'), { ok: true, segments: ['...'] }, 'three dots are a name');
    assert.deepEqual(splitUrlPath('..a/b..'), { ok: true, segments: ['..a', 'b..'] });
    assert.deepEqual(splitUrlPath('a%25b'), { ok: true, segments: ['a%b'] }, 'decoded once only');
    assert.deepEqual(splitUrlPath('%252e%252e'), { ok: true, segments: ['%2e%2e'] }, 'a double-encoded dot segment is a literal name, not ..');
  });

  const refusals: [string, PathRefusal][] = [
    ['', 'empty-segment'],
    ['/etc/passwd', 'empty-segment'],
    ['a//b', 'empty-segment'],
    ['a/', 'empty-segment'],
    ['.', 'dot-segment'],
    ['..', 'dot-segment'],
    ['a/../b', 'dot-segment'],
    ['%2e%2e', 'dot-segment'],
    ['%2E%2E/etc', 'dot-segment'],
    ['.%2e', 'dot-segment'],
    ['%2e', 'dot-segment'],
    ['a/%2e/b', 'dot-segment'],
    ['..%2fetc', 'separator-in-segment'],
    ['%2F', 'separator-in-segment'],
    ['..%5cetc', 'separator-in-segment'],
    ['%5C', 'separator-in-segment'],
    ['..\\etc', 'separator-in-segment'],
    ['a\\b', 'separator-in-segment'],
    ['linux%00', 'nul-byte'],
    ['%00/a', 'nul-byte'],
    ['a\u0000b', 'nul-byte'],
    ['%zz', 'bad-encoding'],
    ['%', 'bad-encoding'],
    ['a/%E0%A4%A', 'bad-encoding'],
    ['%C0%AE%C0%AE', 'bad-encoding'], // overlong UTF-8 for "..": not valid UTF-8, so refused rather than decoded
    ['a/'.repeat(512) + 'b', 'too-long'],
  ];
  for (const [path, reason] of refusals) {
    test(`refuses ${JSON.stringify(path.length > 40 ? `${path.slice(0, 20)}…` : path)}: ${reason}`, () => {
      assert.deepEqual(splitUrlPath(path), { ok: false, reason });
    });
  }

  test('1024 characters are allowed, 1025 are too long', () => {
    assert.equal(splitUrlPath('a'.repeat(1024)).ok, true);
    assert.deepEqual(splitUrlPath('a'.repeat(1025)), { ok: false, reason: 'too-long' });
  });
});

describe('splitPlainPath', () => {
  test('does not decode: percent signs are part of the name', () => {
    assert.deepEqual(splitPlainPath('images/debian/linux'), { ok: true, segments: ['images', 'debian', 'linux'] });
    assert.deepEqual(splitPlainPath('%2e%2e/%2f'), { ok: true, segments: ['%2e%2e', '%2f'] });
  });

  const refusals: [string, PathRefusal][] = [
    ['', 'empty-segment'],
    ['/undionly.kpxe', 'empty-segment'],
    ['a//b', 'empty-segment'],
    ['..', 'dot-segment'],
    ['images/../../etc/passwd', 'dot-segment'],
    ['./ipxe.efi', 'dot-segment'],
    ['..\\..\\etc\\passwd', 'separator-in-segment'],
    ['boot\\x86\\wdsnbp.com', 'separator-in-segment'],
    ['ipxe.efi\u0000.txt', 'nul-byte'],
    ['a/'.repeat(513), 'too-long'],
  ];
  for (const [path, reason] of refusals) {
    test(`refuses ${JSON.stringify(path.length > 40 ? `${path.slice(0, 20)}…` : path)}: ${reason}`, () => {
      assert.deepEqual(splitPlainPath(path), { ok: false, reason });
    });
  }
});

describe('openSafeFile', () => {
  let base = '';
  let root = '';
  before(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'bootstation-safe-path-')));
    root = join(base, 'img');
    await mkdir(join(root, 'Install', 'Sub'), { recursive: true });
    await mkdir(join(base, 'img2'));
    await mkdir(join(base, 'outside'));
    await writeFile(join(root, 'Install', 'VMLinuz'), 'kernel');
    await writeFile(join(root, 'Install', 'Sub', 'initrd.GZ'), 'initrd');
    await writeFile(join(root, 'both'), 'lower');
    await writeFile(join(root, 'BOTH'), 'upper');
    await writeFile(join(base, 'img2', 'file'), 'sibling whose name starts like the root');
    await writeFile(join(base, 'outside', 'secret'), 'secret');
    await symlink(join(base, 'outside', 'secret'), join(root, 'Leak'));
    await symlink(join(base, 'outside'), join(root, 'OutDir'));
    await symlink('../img2/file', join(root, 'prefix-trick'));
    await symlink('Install/VMLinuz', join(root, 'inside-link'));
    await symlink('Install', join(root, 'inside-dir'));
    await symlink(join(base, 'nowhere'), join(root, 'dangling'));
    await symlink(root, join(base, 'root-link'));
    await writeFile(join(root, '.manifest.json'), '{"source":"https://user:pw@mirror.example/x.iso"}');
    await mkdir(join(root, '.ingest'));
    await writeFile(join(root, '.ingest', 'state'), 'state');
    await symlink('.manifest.json', join(root, 'manifest-link'));
    await symlink('.ingest', join(root, 'state-dir'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  const expectOk = async (segments: string[], file: string, options?: { caseInsensitive?: boolean }, from = root): Promise<void> => {
    const result = await openSafeFile(from, segments, options);
    assert.ok(result.ok, `${segments.join('/')} must be found, got ${JSON.stringify(result)}`);
    assert.equal(result.path, join(root, file));
    assert.ok(result.stats.isFile());
  };
  const expectRefused = async (segments: string[], reason: PathRefusal, options?: { caseInsensitive?: boolean; followOutside?: boolean }): Promise<void> => {
    assert.deepEqual(await openSafeFile(root, segments, options), { ok: false, reason }, segments.join('/'));
  };

  test('finds files by exact name, and only by exact name without caseInsensitive', async () => {
    await expectOk(['Install', 'VMLinuz'], 'Install/VMLinuz');
    await expectRefused(['install', 'vmlinuz'], 'not-found');
    await expectRefused(['INSTALL', 'SUB', 'INITRD.GZ'], 'not-found');
  });

  test('caseInsensitive matches every segment that differs only in case', async () => {
    await expectOk(['install', 'vmlinuz'], 'Install/VMLinuz', { caseInsensitive: true });
    await expectOk(['INSTALL', 'VMLINUZ'], 'Install/VMLinuz', { caseInsensitive: true });
    await expectOk(['INSTALL', 'SUB', 'INITRD.GZ'], 'Install/Sub/initrd.GZ', { caseInsensitive: true });
    await expectRefused(['install', 'vmlinux'], 'not-found', { caseInsensitive: true });
  });

  test('caseInsensitive prefers the exact name when several differ only in case', async () => {
    await expectOk(['both'], 'both', { caseInsensitive: true });
    await expectOk(['BOTH'], 'BOTH', { caseInsensitive: true });
    const other = await openSafeFile(root, ['Both'], { caseInsensitive: true });
    assert.ok(other.ok && ['both', 'BOTH'].includes(other.path.slice(root.length + 1)), 'one of the two for a third spelling');
  });

  test('symlinks are followed while they stay inside the root', async () => {
    await expectOk(['inside-link'], 'Install/VMLinuz');
    const viaDir = await openSafeFile(root, ['inside-dir', 'VMLinuz']);
    assert.ok(viaDir.ok, 'a symlinked folder inside the root');
    assert.equal(viaDir.path, join(root, 'Install', 'VMLinuz'), 'the real path is returned');
  });

  test('symlinks out of the root are refused, also with caseInsensitive and through a folder', async () => {
    await expectRefused(['Leak'], 'outside-root');
    await expectRefused(['leak'], 'outside-root', { caseInsensitive: true });
    await expectRefused(['OutDir', 'secret'], 'outside-root');
    await expectRefused(['outdir', 'SECRET'], 'outside-root', { caseInsensitive: true });
    await expectRefused(['OutDir'], 'outside-root');
  });

  test('a sibling folder whose name starts with the root\'s name is outside', async () => {
    await expectRefused(['prefix-trick'], 'outside-root');
  });

  test('followOutside (trusted names only) follows a symlink out of the root', async () => {
    const result = await openSafeFile(root, ['Leak'], { followOutside: true });
    assert.ok(result.ok);
    assert.equal(result.path, join(base, 'outside', 'secret'));
  });

  test('folders, the root itself, dangling links and missing roots are refused', async () => {
    await expectRefused(['Install'], 'not-a-file');
    await expectRefused(['inside-dir'], 'not-a-file');
    await expectRefused([], 'outside-root');
    await expectRefused(['dangling'], 'not-found');
    assert.deepEqual(await openSafeFile(join(base, 'no-such-root'), ['x']), { ok: false, reason: 'not-found' });
  });

  test('a root given through a symlink works like the real one', async () => {
    await expectOk(['Install', 'VMLinuz'], 'Install/VMLinuz', {}, join(base, 'root-link'));
  });

  test('dotfiles and dot-folders are refused, also by another case or through a link to them', async () => {
    await expectRefused(['.manifest.json'], 'dot-file');
    await expectRefused(['.MANIFEST.JSON'], 'dot-file', { caseInsensitive: true });
    await expectRefused(['.ingest', 'state'], 'dot-file');
    await expectRefused(['Install', '.hidden'], 'dot-file');
    await expectRefused(['...'], 'dot-file');
    await expectRefused(['manifest-link'], 'dot-file');
    await expectRefused(['state-dir', 'state'], 'dot-file');
  });

  test('segments that slipped past the splitters still cannot climb out', async () => {
    // openSafeFile's own containment check is the last line of defence.
    await expectRefused(['..', 'outside', 'secret'], 'outside-root');
    await expectRefused(['Install', '..', '..', 'img2', 'file'], 'outside-root');
  });
});
