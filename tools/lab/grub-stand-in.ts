// Stand-ins for the iPXE first stages Debian does not ship (snp-arm64.efi, ipxe32.efi), built at test time from Debian's GRUB: CI cannot build iPXE.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptVersion, cachedPackage, DEFAULT_LAB_CACHE } from './debian-package.ts';
import { runCommand } from './processes.ts';
import { labPlatform } from './topology.ts';

/** The lab firmware a GRUB stand-in can start on. */
export type StandInFirmware = 'arm64' | 'efi32';

/**
 * Per firmware: Debian's GRUB modules for it (the host's grub-mkimage, from grub-common, packs them into one EFI
 * program) and grub-mkimage's name for the format. The file it stands in for is the platform row's firstStage.
 */
export const GRUB_STAND_INS: Readonly<Record<StandInFirmware, { package: string; format: string }>> = {
  arm64: { package: 'grub-efi-arm64-bin:arm64', format: 'arm64-efi' },
  efi32: { package: 'grub-efi-ia32-bin:i386', format: 'i386-efi' },
};

/**
 * GRUB modules of the stand-in: the firmware's NIC (efinet, which takes the address the firmware's PXE or HTTP
 * Boot got), the HTTP client, the Linux loader and the commands of its embedded config.
 */
export const GRUB_STAND_IN_MODULES = ['efinet', 'net', 'http', 'tftp', 'linux', 'echo', 'normal', 'halt'] as const;

/** The first word of every line the stand-in prints, so a serial log shows which first stage ran. */
export const GRUB_STAND_IN_BANNER = 'bootstation-lab-grub-stand-in:';

/** What the stand-in loads: a kernel and initrd by their URL path on bootstation's HTTP server, with arguments. */
export interface StandInBoot {
  /** The first stage it stands in for, named in what it prints. */
  firstStage: string;
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
    `echo ${GRUB_STAND_IN_BANNER} GRUB stands in for ${boot.firstStage}, loading ${device}${boot.kernelPath}`,
    `linux ${device}${boot.kernelPath} ${boot.args}`,
    `echo ${GRUB_STAND_IN_BANNER} loading ${device}${boot.initrdPath}`,
    `initrd ${device}${boot.initrdPath}`,
    `echo ${GRUB_STAND_IN_BANNER} starting the kernel`,
    'boot',
    // boot returns only when it failed (GRUB 2.06 reading lower-case header names: "error: out of memory"); the
    // rescue prompt would wait for a key, so power off and let the lab tell the story at once.
    `echo ${GRUB_STAND_IN_BANNER} the boot failed, powering off`,
    'halt',
    '',
  ].join('\n');
}

/**
 * Writes the GRUB stand-in for a firmware's first stage into dataIpxeDir, under that first stage's name, and returns
 * its path: Debian's GRUB modules (downloaded once into the lab's cache) packed by grub-mkimage with the config that
 * boots `boot`.
 */
export async function buildGrubStandIn(
  firmware: StandInFirmware,
  dataIpxeDir: string,
  boot: Omit<StandInBoot, 'firstStage'>,
  note: (line: string) => void = () => {},
  cacheDir: string = DEFAULT_LAB_CACHE,
): Promise<string> {
  const { package: pkg, format } = GRUB_STAND_INS[firmware];
  const firstStage = labPlatform(firmware).firstStage;
  const version = await aptVersion(pkg);
  const { dir } = await cachedPackage(
    cacheDir,
    pkg,
    version,
    () => true,
    async (root, staged) => {
      await runCommand(['cp', '-a', join(root, 'usr/lib/grub', format), join(staged, format)]);
      return { package: pkg, version };
    },
    note,
  );
  const outFile = join(dataIpxeDir, firstStage);
  const work = await mkdtemp(`${outFile}.grub-`);
  try {
    const config = join(work, 'embedded.cfg');
    await writeFile(config, renderGrubStandInConfig({ ...boot, firstStage }));
    await runCommand(['grub-mkimage', '-O', format, '-d', join(dir, format), '-p', '/', '-c', config, '-o', outFile, ...GRUB_STAND_IN_MODULES]);
    return outFile;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
