// The lab's own image: a test kernel and initrd per architecture and a payload, and the images.yaml that boots them.
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LAB_ARCHITECTURES, LAB_ARCHS, type LabArch } from './architectures.ts';
import { buildTestInitrd } from './test-initrd.ts';
import type { TestKernel } from './test-kernel.ts';

/** The id of the lab's image in the generated images.yaml. */
export const LAB_IMAGE_ID = 'lab-marker';

/** The id of the second image renderLabConfig can add: the amd64 kernel alone, which only x86_64 clients can run. */
export const LAB_X86_64_ONLY_IMAGE_ID = 'lab-x86-64-only';

/** The file /init fetches from ${base-url} (with its .sha256 beside it), as SystemRescue fetches sysrcd.dat. */
export const LAB_PAYLOAD_FILE = 'payload.bin';

/**
 * Kernel arguments of the lab image on one architecture: its serial console, a panic that ends QEMU
 * (-no-reboot) instead of hanging, the netboot= URL, and a token with characters that scripts could mangle.
 */
export function labImageArgs(arch: LabArch): string {
  return `console=${LAB_ARCHITECTURES[arch].console} panic=1 netboot=\${base-url}${LAB_PAYLOAD_FILE} bootstation.lab=token_1-a.b,c`;
}

/** Kernel arguments of the lab image's amd64 kernel, the one BIOS and x64 UEFI boot. */
export const LAB_IMAGE_ARGS = labImageArgs('amd64');

/** The lab image on disk: <dir>/<arch>/vmlinuz and initrd.cpio per architecture, and the payload in <dir>. */
export interface LabImage {
  dir: string;
  archs: LabArch[];
  payloadSha256: string;
}

/** Writes the lab image (each kernel with its test initrd, a random payload and its .sha256) into dir. */
export async function prepareLabImage(dir: string, ...kernels: TestKernel[]): Promise<LabImage> {
  for (const kernel of kernels) {
    await mkdir(join(dir, kernel.arch), { recursive: true });
    await copyFile(kernel.vmlinuz, join(dir, kernel.arch, 'vmlinuz'));
    await buildTestInitrd(kernel, join(dir, kernel.arch, 'initrd.cpio'));
  }
  const payload = randomBytes(1024 * 1024);
  const payloadSha256 = createHash('sha256').update(payload).digest('hex');
  await writeFile(join(dir, LAB_PAYLOAD_FILE), payload);
  await writeFile(join(dir, `${LAB_PAYLOAD_FILE}.sha256`), `${payloadSha256}  ${LAB_PAYLOAD_FILE}\n`);
  return { dir, archs: kernels.map((kernel) => kernel.arch), payloadSha256 };
}

/** The boot spec of one architecture's kernel (its `arch:` left out: bootstation reads it from the kernel header). */
function bootSpec(arch: LabArch): { kernel: string; initrd: string[]; args: string } {
  return { kernel: `${arch}/vmlinuz`, initrd: [`${arch}/initrd.cpio`], args: labImageArgs(arch) };
}

/**
 * images.yaml for the lab: the lab image as the menu's default, booted after timeoutSeconds, with one boot
 * spec per architecture in LAB_ARCHITECTURES' order (i386 first); with x86_64Only, also an image with the
 * amd64 kernel alone, which the menu of a 32-bit or arm64 client must hide.
 */
export function renderLabConfig(image: { dir: string; archs?: readonly LabArch[] }, timeoutSeconds = 1, options: { x86_64Only?: boolean } = {}): string {
  const archs = LAB_ARCHS.filter((arch) => (image.archs ?? ['amd64']).includes(arch));
  const specs = archs.map(bootSpec);
  return stringify({
    menu: { title: 'bootstation lab', default: LAB_IMAGE_ID, timeout: timeoutSeconds },
    images: [
      {
        id: LAB_IMAGE_ID,
        label: 'Lab marker (test kernel and initrd)',
        source: { dir: image.dir },
        // One spec in the plain form, as a user with one kernel writes it.
        boot: specs.length === 1 ? specs[0] : specs,
      },
      ...(options.x86_64Only
        ? [{ id: LAB_X86_64_ONLY_IMAGE_ID, label: 'Lab marker, x86_64 kernel only', source: { dir: image.dir }, boot: bootSpec('amd64') }]
        : []),
    ],
  });
}
