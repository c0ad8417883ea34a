// The kernel header reader on Debian's own kernels (amd64, 686 and arm64, fetched with apt-get download by the lab's
// ensureTestKernel), and the menu each client platform gets from a folder that holds them.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { checkBootFiles, createKernelHeaderReader, readKernelHeader } from '../../src/boot/image-files.ts';
import { PLATFORMS, type PlatformId } from '../../src/boot/platform.ts';
import { renderMenu } from '../../src/boot/scripts.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { ensureTestKernel, type TestKernel } from '../../tools/lab/test-kernel.ts';
import type { LabArch } from '../../tools/lab/architectures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const ARCHS: readonly LabArch[] = ['amd64', 'i386', 'arm64'];

// Fetched before the tests run; the reason to skip when apt-get cannot fetch them here.
const kernels = new Map<LabArch, TestKernel>();
let unavailable: string | undefined;
try {
  for (const arch of ARCHS) kernels.set(arch, await ensureTestKernel(arch));
} catch (error) {
  unavailable = `Debian's kernels could not be fetched with apt-get download: ${(error as Error).message.split('\n')[0]}`;
}
const skip = skipOrFail('kernel-header-debian', unavailable);

describe("Debian's kernels, read from their headers", { skip }, () => {
  test('linux-image-amd64: a 64-bit bzImage (XLF_KERNEL_64) with an x86_64 EFI stub (PE machine 0x8664)', async () => {
    const header = await readKernelHeader(kernels.get('amd64')!.vmlinuz);
    assert.equal(header.format, 'bzimage');
    assert.ok(header.format === 'bzimage');
    assert.equal(header.cpu, 'x86_64');
    assert.deepEqual(header.efi, { machine: 0x8664, cpu: 'x86_64' });
    assert.ok(header.protocol >= 0x020c, `boot protocol 0x${header.protocol.toString(16)}`);
  });

  test('linux-image-686: a 32-bit bzImage with an i386 EFI stub (PE machine 0x14c)', async () => {
    const header = await readKernelHeader(kernels.get('i386')!.vmlinuz);
    assert.ok(header.format === 'bzimage', header.format);
    assert.equal(header.cpu, 'i386');
    assert.deepEqual(header.efi, { machine: 0x014c, cpu: 'i386' });
  });

  test('linux-image-arm64: an uncompressed arm64 Image with its EFI stub (PE machine 0xaa64)', async () => {
    assert.deepEqual(await readKernelHeader(kernels.get('arm64')!.vmlinuz), { format: 'arm64-image', efi: { machine: 0xaa64, cpu: 'arm64' } });
  });

  describe('a folder with all three, as images.yaml lists them', () => {
    let dir = '';
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bootstation-kernels-'));
      for (const arch of ARCHS) {
        await mkdir(join(dir, arch));
        await copyFile(kernels.get(arch)!.vmlinuz, join(dir, arch, 'vmlinuz'));
      }
      // iPXE also starts a gzipped arm64 Image: the reader inflates its start.
      await pipeline(createReadStream(kernels.get('arm64')!.vmlinuz), createGzip(), createWriteStream(join(dir, 'arm64', 'Image.gz')));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    const yaml = () => `images:
  - id: debian
    source: {dir: ${dir}}
    boot:
      - {kernel: i386/vmlinuz}
      - {kernel: amd64/vmlinuz}
      - {kernel: arm64/Image.gz}
  - id: amd64-only
    source: {dir: ${dir}}
    boot: {kernel: amd64/vmlinuz}
`;
    const kernelOf = (menu: string, id: string): string | undefined => new RegExp(`^:bs-image-${id}\\n(?:.*\\n)*?kernel \\$\\{base-url\\}(\\S+)`, 'm').exec(menu)?.[1];

    test('each platform boots the kernel its CPU can start, and 32-bit UEFI hides the x86_64 entry', async () => {
      const config = parseConfigText(yaml(), 'images.yaml');
      const check = await checkBootFiles(config, createKernelHeaderReader());
      assert.deepEqual(check.missing, new Map());
      assert.equal(check.kernels.get('debian')?.get('arm64/Image.gz')?.format, 'arm64-image', 'the gzipped Image is read inside');
      const menus = Object.fromEntries(
        PLATFORMS.map((platform) => [
          platform.id,
          renderMenu({ config, serverUrl: 'http://10.77.0.2', client: { platform: platform.ipxe.platform, buildarch: platform.ipxe.buildarch }, missingFiles: check.missing, kernels: check.kernels }),
        ]),
      ) as Record<PlatformId, string>;
      assert.deepEqual(
        Object.fromEntries(Object.entries(menus).map(([id, menu]) => [id, [kernelOf(menu, 'debian'), kernelOf(menu, 'amd64-only') ?? 'hidden']])),
        {
          bios: ['i386/vmlinuz', 'amd64/vmlinuz'],
          'efi-x64': ['amd64/vmlinuz', 'amd64/vmlinuz'],
          'efi-ia32': ['i386/vmlinuz', 'hidden'],
          'efi-arm64': ['arm64/Image.gz', 'hidden'],
        },
      );
      assert.match(menus['efi-ia32'], /^# hidden: amd64-only \(x86_64 kernel; this is 32-bit UEFI\)$/m);
      assert.match(menus['efi-arm64'], /^# hidden: amd64-only \(x86_64 kernel; this is arm64 UEFI\)$/m);
    });

    test('a kernel is read again only after its file changed (a new file in its place)', async () => {
      const reader = createKernelHeaderReader();
      const config = parseConfigText(yaml(), 'images.yaml');
      assert.equal((await checkBootFiles(config, reader)).kernels.get('amd64-only')?.get('amd64/vmlinuz')?.format, 'bzimage');
      // The user copies the arm64 kernel over the amd64 one (a new inode): the next check reads it.
      await rm(join(dir, 'amd64', 'vmlinuz'));
      await copyFile(kernels.get('arm64')!.vmlinuz, join(dir, 'amd64', 'vmlinuz'));
      assert.equal((await checkBootFiles(config, reader)).kernels.get('amd64-only')?.get('amd64/vmlinuz')?.format, 'arm64-image');
      await rm(join(dir, 'amd64', 'vmlinuz'));
      await copyFile(kernels.get('amd64')!.vmlinuz, join(dir, 'amd64', 'vmlinuz'));
    });
  });
});
