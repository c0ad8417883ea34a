// Which of an image's boot specs a client platform can start, from each kernel's header or images.yaml's arch:, and why not. Pure.
import { bootSpecsOf, type BootSpec, type CpuArchitecture, type FirmwareFamily, type ImageConfig } from '../config/model.ts';
import type { KernelHeader } from './kernel-header.ts';
import type { Platform } from './platform.ts';

/** The platform row facts the decision needs. */
export type ClientPlatform = Pick<Platform, 'family' | 'cpu' | 'displayName'>;

/** What is known about each image's kernels: image id → kernel path → its header. */
export type KernelHeaders = ReadonlyMap<string, ReadonlyMap<string, KernelHeader>>;

/**
 * Why a platform cannot start a kernel, as one short phrase for the menu and the dashboard ("x86_64 kernel; this
 * is arm64 UEFI"), or undefined when it can, or when nothing says what the kernel is (never hide what we cannot
 * read). An explicit arch (images.yaml) replaces what the header says.
 */
export function kernelFitProblem(platform: ClientPlatform, header: KernelHeader | undefined, arch?: CpuArchitecture): string | undefined {
  const problem = arch ? declaredProblem(platform, arch) : headerProblem(platform, header);
  return problem && `${problem}; this is ${platform.displayName}`;
}

// iPXE on BIOS (${buildarch} i386) starts any x86 kernel through the 16-bit boot protocol, 64-bit ones too: the
// kernel switches to long mode itself. iPXE on UEFI starts kernels with LoadImage and has no EFI handover, so there
// the PE machine must be the firmware's own CPU: measured, ipxe32.efi + an x86_64 kernel fails with
// "Error 0x7f048283", arm64 iPXE + an x86 kernel with "Error 0x7f048183".
function declaredProblem(platform: ClientPlatform, arch: CpuArchitecture): string | undefined {
  if (platform.family === 'bios') return arch === 'arm64' ? `${arch} kernel` : undefined;
  return arch === platform.cpu ? undefined : `${arch} kernel`;
}

function headerProblem(platform: ClientPlatform, header: KernelHeader | undefined): string | undefined {
  if (!header || header.format === 'unknown' || header.format === 'gzip') return undefined;
  if (platform.family === 'bios') {
    if (header.format === 'bzimage') return undefined;
    return header.format === 'arm64-image' ? 'arm64 kernel' : `${machineName(header.efi.machine, header.efi.cpu)} EFI program`;
  }
  // The handover entry points (XLF_EFI_HANDOVER_32/64) do not help: iPXE never calls them.
  if (header.efi?.cpu === platform.cpu) return undefined;
  const what = header.format === 'pe' ? 'EFI program' : 'kernel';
  if (!header.efi) return header.format === 'arm64-image' ? 'arm64 kernel without an EFI stub' : 'kernel without an EFI stub';
  return `${machineName(header.efi.machine, header.efi.cpu)} ${what}`;
}

function machineName(machine: number, cpu: CpuArchitecture | undefined): string {
  return cpu ?? `PE machine 0x${machine.toString(16).padStart(4, '0')}`;
}

/**
 * The spec an image boots on a client, or why it has none the client can start; byFirmware: none is for the
 * client's firmware family, which the menu leaves out without a word, as it does an image's `firmware:`.
 */
export type BootChoice = { spec: BootSpec } | { spec?: undefined; reason: string; byFirmware: boolean };

/**
 * The first of an image's boot specs that fits the client's firmware family and, when its platform row is known,
 * that its CPU can start (kernelFitProblem). Without a family every spec fits. A chain image has no spec and
 * runs anywhere.
 */
export function chooseBootSpec(
  image: ImageConfig,
  client: { family?: FirmwareFamily; platform?: ClientPlatform },
  headers: KernelHeaders | undefined,
): BootChoice {
  const specs = bootSpecsOf(image);
  if (specs.length === 0) return { spec: image };
  const family = client.platform?.family ?? client.family;
  const forFamily = specs.filter((spec) => !family || !spec.families || spec.families.includes(family));
  if (forFamily.length === 0) return { reason: `no boot spec for ${family}`, byFirmware: true };
  const platform = client.platform;
  if (!platform) return { spec: forFamily[0]! };
  const problems = forFamily.map((spec) => kernelFitProblem(platform, headers?.get(image.id)?.get(spec.kernel), spec.arch));
  const fits = problems.findIndex((problem) => problem === undefined);
  return fits >= 0 ? { spec: forFamily[fits]! } : { reason: problems[0]!, byFirmware: false };
}
