// A stand-in for bootstation's arm64 iPXE (snp-arm64.efi), built at test time from Debian's GRUB: CI cannot build iPXE.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptVersion, cachedPackage, DEFAULT_LAB_CACHE } from './debian-package.ts';
import { runCommand } from './processes.ts';

/** Debian's GRUB modules for arm64 UEFI; the host's grub-mkimage (grub-common) packs them into one EFI program. */
export const GRUB_ARM64_PACKAGE = 'grub-efi-arm64-bin:arm64';

/**
 * GRUB modules of the stand-in: the firmware's NIC (efinet, which takes the address the firmware's PXE or HTTP
 * Boot got), the HTTP client, the Linux loader and the commands of its embedded config.
 */
export const GRUB_STAND_IN_MODULES = ['efinet', 'net', 'http', 'tftp', 'linux', 'echo', 'normal'] as const;

/** The first word of every line the stand-in prints, so a serial log shows which first stage ran. */
export const GRUB_STAND_IN_BANNER = 'bootstation-lab-grub-stand-in:';

/** What the stand-in loads: a kernel and initrd by their URL path on bootstation's HTTP server, with arguments. */
export interface StandInBoot {
  server: string;
  httpPort: number;
  kernelPath: string;
  initrdPath: string;
  /** Kernel arguments, ${base-url} already expanded (GRUB knows no iPXE variables). */
  args: string;
}

/** The stand-in's embedded config: plain commands only, as GRUB's rescue parser runs an embedded config. */
export function renderGrubStandInConfig(boot: StandInBoot): string {
  for (const [name, value] of Object.entries(boot)) {
    // The values come from the test, but a quote or newline would still silently change GRUB's commands.
    if (/["'\\\n;$]/.test(String(value))) throw new Error(`stand-in ${name} "${String(value)}" holds a character GRUB would interpret`);
  }
  const device = `(http,${boot.server}:${boot.httpPort})`;
  return [
    `echo ${GRUB_STAND_IN_BANNER} GRUB stands in for snp-arm64.efi, loading ${device}${boot.kernelPath}`,
    `linux ${device}${boot.kernelPath} ${boot.args}`,
    `echo ${GRUB_STAND_IN_BANNER} loading ${device}${boot.initrdPath}`,
    `initrd ${device}${boot.initrdPath}`,
    `echo ${GRUB_STAND_IN_BANNER} starting the kernel`,
    'boot',
    '',
  ].join('\n');
}

/**
 * Writes the GRUB stand-in for snp-arm64.efi to outFile: Debian's arm64-efi GRUB modules (downloaded once into
 * the lab's cache) packed by grub-mkimage with the config that boots `boot`.
 */
export async function buildGrubStandIn(outFile: string, boot: StandInBoot, note: (line: string) => void = () => {}, cacheDir: string = DEFAULT_LAB_CACHE): Promise<void> {
  const version = await aptVersion(GRUB_ARM64_PACKAGE);
  const { dir } = await cachedPackage(
    cacheDir,
    GRUB_ARM64_PACKAGE,
    version,
    () => true,
    async (root, staged) => {
      await runCommand(['cp', '-a', join(root, 'usr/lib/grub/arm64-efi'), join(staged, 'arm64-efi')]);
      return { package: GRUB_ARM64_PACKAGE, version };
    },
    note,
  );
  const work = await mkdtemp(`${outFile}.grub-`);
  try {
    const config = join(work, 'embedded.cfg');
    await writeFile(config, renderGrubStandInConfig(boot));
    await runCommand(['grub-mkimage', '-O', 'arm64-efi', '-d', join(dir, 'arm64-efi'), '-p', '/', '-c', config, '-o', outFile, ...GRUB_STAND_IN_MODULES]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
