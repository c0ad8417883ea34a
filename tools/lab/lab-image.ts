// The lab's own image: kernel, test initrd and payload, and the images.yaml that boots them.
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildTestInitrd } from './test-initrd.ts';
import type { TestKernel } from './test-kernel.ts';

/** The id of the lab's image in the generated images.yaml. */
export const LAB_IMAGE_ID = 'lab-marker';

/** The file /init fetches from ${base-url} (with its .sha256 beside it), as SystemRescue fetches sysrcd.dat. */
export const LAB_PAYLOAD_FILE = 'payload.bin';

/**
 * Kernel arguments of the lab image: the serial console, a panic that ends QEMU (-no-reboot) instead
 * of hanging, the netboot= URL, and a token with characters that scripts could mangle.
 */
export const LAB_IMAGE_ARGS = `console=ttyS0 panic=1 netboot=\${base-url}${LAB_PAYLOAD_FILE} bootstation.lab=token_1-a.b,c`;

/** The lab image on disk. */
export interface LabImage {
  dir: string;
  payloadSha256: string;
}

/** Writes the lab image (kernel, test initrd, a random payload and its .sha256) into dir. */
export async function prepareLabImage(dir: string, kernel: TestKernel): Promise<LabImage> {
  await mkdir(dir, { recursive: true });
  await copyFile(kernel.vmlinuz, join(dir, 'vmlinuz'));
  await buildTestInitrd(kernel, join(dir, 'initrd.cpio'));
  const payload = randomBytes(1024 * 1024);
  const payloadSha256 = createHash('sha256').update(payload).digest('hex');
  await writeFile(join(dir, LAB_PAYLOAD_FILE), payload);
  await writeFile(join(dir, `${LAB_PAYLOAD_FILE}.sha256`), `${payloadSha256}  ${LAB_PAYLOAD_FILE}\n`);
  return { dir, payloadSha256 };
}

/** images.yaml for the lab: the lab image as the menu's default, booted after timeoutSeconds. */
export function renderLabConfig(image: { dir: string; args?: string }, timeoutSeconds = 1): string {
  return stringify({
    menu: { title: 'bootstation lab', default: LAB_IMAGE_ID, timeout: timeoutSeconds },
    images: [
      {
        id: LAB_IMAGE_ID,
        label: 'Lab marker (test kernel and initrd)',
        source: { dir: image.dir },
        boot: { kernel: 'vmlinuz', initrd: ['initrd.cpio'], args: image.args ?? LAB_IMAGE_ARGS },
      },
    ],
  });
}
