/** A make goal of iPXE's src/Makefile and the name bootstation serves its output under. */
export interface TargetOutput {
  make: string;
  file: string;
}

/**
 * One build target: what `make` builds for it. Which compiler builds it depends on the build machine, so
 * scripts/build-ipxe.sh chooses CROSS= (the host gcc on x86 for every x86 target, aarch64-linux-gnu- for
 * arm64; the x86 cross compilers on an arm64 machine).
 */
export interface IpxeTarget {
  name: IpxeTargetName;
  /** Built together in one make run, since they share the platform's objects. */
  outputs: readonly TargetOutput[];
}

/** Target names as --targets takes them. */
export const IPXE_TARGET_NAMES = ['bios', 'efi64', 'efi32', 'arm64'] as const;

/** One target name. */
export type IpxeTargetName = (typeof IPXE_TARGET_NAMES)[number];

/** Every target, built when --targets (or the Docker build argument TARGETS) is not given. */
export const DEFAULT_TARGETS: readonly IpxeTargetName[] = IPXE_TARGET_NAMES;

/** Every target with its make goals and output names (the names ProxyDHCP hands to firmware). */
export const IPXE_TARGETS: Readonly<Record<IpxeTargetName, IpxeTarget>> = {
  bios: { name: 'bios', outputs: [{ make: 'bin/undionly.kpxe', file: 'undionly.kpxe' }] },
  efi64: {
    name: 'efi64',
    // snponly.efi drives the NIC through the firmware's own SNP driver, for NICs whose iPXE driver misbehaves.
    outputs: [{ make: 'bin-x86_64-efi/ipxe.efi', file: 'ipxe.efi' }, { make: 'bin-x86_64-efi/snponly.efi', file: 'snponly.efi' }],
  },
  efi32: { name: 'efi32', outputs: [{ make: 'bin-i386-efi/ipxe.efi', file: 'ipxe32.efi' }] },
  arm64: { name: 'arm64', outputs: [{ make: 'bin-arm64-efi/snp.efi', file: 'snp-arm64.efi' }] },
};

/** A --targets value that names no known target. */
export class TargetsError extends Error {
  readonly code = 'BOOTSTATION_IPXE_TARGETS';
}

/** Parses a comma-separated --targets value into known targets, in IPXE_TARGET_NAMES order, without repeats. */
export function parseTargets(value: string): IpxeTargetName[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new TargetsError(`--targets is empty; name one or more of ${IPXE_TARGET_NAMES.join(',')}`);
  for (const name of names) {
    if (!IPXE_TARGET_NAMES.some((known) => known === name)) {
      throw new TargetsError(`--targets names "${name.slice(0, 40)}", which is not a target; use a comma-separated list of ${IPXE_TARGET_NAMES.join(',')}`);
    }
  }
  return IPXE_TARGET_NAMES.filter((known) => names.includes(known));
}
