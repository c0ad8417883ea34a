// Why the lab, or a VM of one firmware, cannot run on this machine, in one line.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { IpxeBinaries } from '../../src/ipxe/binaries.ts';
import type { LabArch } from './architectures.ts';
import { runCommand } from './processes.ts';
import { qemuSystem, UEFI_FILES, uefiFirmware } from './qemu-args.ts';
import { STATIC_BUSYBOX } from './test-initrd.ts';
import { labPlatform, type LabFirmware } from './topology.ts';

// Command → the Debian package that provides it.
const COMMANDS = [
  ['ip', 'iproute2'],
  ['ethtool', 'ethtool'],
  ['dnsmasq', 'dnsmasq-base'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['cpio', 'cpio'],
  ['apt-get', 'apt'],
  ['dpkg', 'dpkg'],
] as const;

// File → the Debian package that provides it.
const FILES = [
  [STATIC_BUSYBOX, 'busybox-static'],
  // QEMU's e1000 loads this iPXE ROM by default and refuses to start without it.
  ['/usr/lib/ipxe/qemu/efi-e1000.rom', 'ipxe-qemu'],
] as const;

/** Why the lab cannot run on this machine, in one line, or undefined when it can. */
export async function labSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces and tap devices)';
  if (!(await exists('/dev/net/tun'))) return 'the lab needs /dev/net/tun for the VMs’ tap devices';
  for (const [command, pkg] of COMMANDS) {
    if (!(await onPath(command))) return `the lab needs ${command} (Debian package ${pkg})`;
  }
  for (const [file, pkg] of FILES) {
    if (!(await exists(file))) return `the lab needs ${file} (Debian package ${pkg})`;
  }
  return undefined;
}

/** Why a VM cannot boot: a package this machine lacks, or an iPXE binary the project does not have yet. */
export interface FirmwareSkip {
  missing: 'package' | 'ipxe-binary';
  reason: string;
}

/** Why a VM of this firmware cannot boot here (beyond labSkipReason), or undefined when it can. */
export async function firmwareSkipReason(firmware: LabFirmware, ipxe: IpxeBinaries): Promise<FirmwareSkip | undefined> {
  const platform = labPlatform(firmware);
  const qemu = qemuSystem(firmware);
  if (!(await onPath(qemu.command))) return { missing: 'package', reason: `${platform.displayName} needs ${qemu.command} (Debian package ${qemu.pkg})` };
  const uefi = uefiFirmware(firmware);
  if (!uefi) return undefined;
  const { code, vars, pkg } = UEFI_FILES[uefi];
  for (const file of [code, vars]) {
    if (!(await exists(file))) return { missing: 'package', reason: `${platform.displayName} needs ${file} (Debian package ${pkg})` };
  }
  const binary = platform.firstStage;
  if (!ipxe.files.has(binary)) {
    const why = !platform.inDebianIpxe && ipxe.kind === 'stock' ? ` (Debian's ipxe package ships no ${platform.displayName} build; bootstation's own iPXE build provides it)` : '';
    return { missing: 'ipxe-binary', reason: `${platform.displayName} needs ${binary}, and ${ipxe.dir} has none${why}` };
  }
  return undefined;
}

/** Why apt cannot download the Debian packages of these architectures here (dpkg does not know them), or undefined. */
export async function foreignArchitecturesSkipReason(archs: readonly LabArch[]): Promise<string | undefined> {
  const known = [await runCommand(['dpkg', '--print-architecture']), await runCommand(['dpkg', '--print-foreign-architectures'])].join('\n').split(/\s+/);
  const missing = archs.filter((arch) => !known.includes(arch));
  if (missing.length === 0) return undefined;
  return `the lab's ${missing.join(' and ')} kernels come from apt, which needs \`dpkg --add-architecture ${missing.join(' ')}\` and \`apt-get update\``;
}

/** Why the GRUB stand-ins for snp-arm64.efi and ipxe32.efi (tools/lab/grub-stand-in.ts) cannot be built here, or undefined when they can. */
export async function grubStandInSkipReason(): Promise<string | undefined> {
  return (await onPath('grub-mkimage')) ? undefined : 'the GRUB stand-ins for snp-arm64.efi and ipxe32.efi need grub-mkimage (Debian package grub-common)';
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    if (await exists(join(dir, command), constants.X_OK)) return true;
  }
  return false;
}

async function exists(path: string, mode: number = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
