import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideBootFile, tftpBootRequest, type BootFileRequest, type IpxeFolder } from '../../src/boot/policy.ts';
import type { ImageConfig } from '../../src/config/model.ts';

const debian = {
  id: 'debian',
  dir: '/data/images/debian',
  kernel: 'linux',
  initrds: ['initrd.gz'],
  moreBoots: [{ kernel: 'efi/vmlinuz', initrds: ['efi/initrd.img'], args: '', families: ['efi'] }],
} as unknown as ImageConfig;
const config = { images: [debian] };
const ipxe: IpxeFolder = { dir: '/data/ipxe', files: new Map([['undionly.kpxe', '/data/ipxe/undionly.kpxe'], ['ipxe.efi', '/data/ipxe/ipxe.efi']]) };

const tftp = (name: string) => decideBootFile(tftpBootRequest(name), config, ipxe);
const http = (area: BootFileRequest['area'], path: string) => decideBootFile({ protocol: 'http', area, path }, config, ipxe);

describe('TFTP names map onto the two folder trees', () => {
  test('images/<id>/… in any case is an image folder, every other name the iPXE folder', () => {
    assert.deepEqual(tftpBootRequest('images/debian/linux'), { protocol: 'tftp', area: 'images', path: 'debian/linux' });
    assert.deepEqual(tftpBootRequest('IMAGES/debian/linux'), { protocol: 'tftp', area: 'images', path: 'debian/linux' });
    assert.deepEqual(tftpBootRequest('undionly.kpxe'), { protocol: 'tftp', area: 'ipxe', path: 'undionly.kpxe' });
    assert.deepEqual(tftpBootRequest('imagesx/linux'), { protocol: 'tftp', area: 'ipxe', path: 'imagesx/linux' });
  });
});

describe('first-stage binaries and the iPXE folder', () => {
  test('a first-stage binary is served by its own name and may link out of the folder (stock binaries point into /boot)', () => {
    const expected = { served: true, role: 'ipxe-binary', dir: '/data/ipxe', segments: ['ipxe.efi'], caseInsensitive: false, trusted: true };
    assert.deepEqual(tftp('ipxe.efi'), expected);
    assert.deepEqual(tftp('IPXE.EFI'), expected, 'TFTP names ignore case');
    assert.deepEqual(http('ipxe', 'ipxe.efi'), expected);
    assert.deepEqual(http('ipxe', 'ipxe%2eefi'), expected, 'HTTP names are decoded first');
  });

  test('over HTTP a binary name in another case is just a file of the folder, not trusted to link out', () => {
    assert.deepEqual(http('ipxe', 'IPXE.EFI'), { served: true, role: 'ipxe-binary', dir: '/data/ipxe', segments: ['IPXE.EFI'], caseInsensitive: false, trusted: false });
  });

  test('a binary absent from the folder is no trusted name', () => {
    assert.deepEqual(tftp('snp-arm64.efi'), { served: true, role: 'ipxe-binary', dir: '/data/ipxe', segments: ['snp-arm64.efi'], caseInsensitive: true, trusted: false });
  });

  test('autoexec.ipxe is refused over both protocols, in any case', () => {
    for (const verdict of [tftp('autoexec.ipxe'), tftp('AutoExec.iPXE'), http('ipxe', 'autoexec.ipxe'), http('ipxe', 'AUTOEXEC.IPXE'), http('ipxe', 'autoexec%2eipxe')]) {
      assert.deepEqual(verdict, { served: false, role: 'ipxe-binary', reason: 'not-found' });
    }
  });

  test('paths that climb out are refused before any file is looked at, still reported as iPXE fetches', () => {
    assert.deepEqual(tftp('../secret'), { served: false, role: 'ipxe-binary', reason: 'dot-segment' });
    assert.deepEqual(http('ipxe', '%2e%2e/secret'), { served: false, role: 'ipxe-binary', reason: 'dot-segment' });
    assert.deepEqual(http('ipxe', '..%2fsecret'), { served: false, role: 'ipxe-binary', reason: 'separator-in-segment' });
    assert.deepEqual(tftp('a//b'), { served: false, role: 'ipxe-binary', reason: 'empty-segment' });
  });
});

describe('image files', () => {
  test("every boot spec's kernel and initrds have their role; other files are image files", () => {
    const cases: Array<[string, string]> = [
      ['debian/linux', 'kernel'],
      ['debian/initrd.gz', 'initrd'],
      ['debian/efi/vmlinuz', 'kernel'],
      ['debian/efi/initrd.img', 'initrd'],
      ['debian/README', 'image-file'],
    ];
    for (const [path, role] of cases) {
      const segments = path.split('/').slice(1);
      assert.deepEqual(http('images', path), { served: true, role, image: 'debian', dir: '/data/images/debian', segments, caseInsensitive: false, trusted: false }, path);
      assert.deepEqual(tftp(`images/${path}`), { served: true, role, image: 'debian', dir: '/data/images/debian', segments, caseInsensitive: true, trusted: false }, path);
    }
  });

  test('the image id ignores case over TFTP only', () => {
    assert.equal(tftp('images/DEBIAN/linux').served, true);
    assert.deepEqual(http('images', 'DEBIAN/linux'), { served: false, reason: 'unknown-image' });
  });

  test('an unknown or refused image id, or an image folder itself, is no boot fetch (no role)', () => {
    assert.deepEqual(http('images', 'nope/linux'), { served: false, reason: 'unknown-image' });
    assert.deepEqual(tftp('images/nope/linux'), { served: false, reason: 'unknown-image' });
    assert.deepEqual(http('images', '%2e%2e/secret'), { served: false, reason: 'dot-segment' });
    assert.deepEqual(http('images', 'debian%2f..%2f/secret'), { served: false, reason: 'separator-in-segment' });
    assert.deepEqual(http('images', 'debian'), { served: false, reason: 'empty-segment' });
  });

  test("a refused path inside a known image is still that image's fetch", () => {
    assert.deepEqual(http('images', 'debian/%2e%2e/secret'), { served: false, role: 'image-file', image: 'debian', reason: 'dot-segment' });
    assert.deepEqual(tftp('images/debian/../../secret'), { served: false, role: 'image-file', image: 'debian', reason: 'dot-segment' });
    assert.deepEqual(http('images', 'debian/'), { served: false, role: 'image-file', image: 'debian', reason: 'empty-segment' });
  });
});

describe('the same path gets the same verdict over TFTP and HTTP', () => {
  // TFTP names the iPXE folder at its root, HTTP under /ipxe/; images/<id>/ is the same on both. Only the
  // case folding differs, which is the protocol's spelling, not a different file.
  const paths: Array<[string, BootFileRequest['area'], string]> = [
    ['undionly.kpxe', 'ipxe', 'undionly.kpxe'],
    ['ipxe.efi', 'ipxe', 'ipxe.efi'],
    ['local.ipxe', 'ipxe', 'local.ipxe'],
    ['autoexec.ipxe', 'ipxe', 'autoexec.ipxe'],
    ['../secret', 'ipxe', '../secret'],
    ['.hidden', 'ipxe', '.hidden'],
    ['images/debian/linux', 'images', 'debian/linux'],
    ['images/debian/efi/initrd.img', 'images', 'debian/efi/initrd.img'],
    ['images/debian/../secret', 'images', 'debian/../secret'],
    ['images/nope/linux', 'images', 'nope/linux'],
  ];
  for (const [name, area, path] of paths) {
    test(name, () => {
      const overTftp = tftp(name);
      const overHttp = http(area, path);
      const withoutCase = (verdict: ReturnType<typeof tftp>) => (verdict.served ? { ...verdict, caseInsensitive: undefined } : verdict);
      assert.deepEqual(withoutCase(overTftp), withoutCase(overHttp));
    });
  }
});
