/** A make goal of iPXE's src/Makefile and the name bootstation serves its output under. */
export interface TargetOutput {
  make: string;
  file: string;
}

/** One build target: what `make` builds for it, and the cross-compiler prefix it needs. */
export interface IpxeTarget {
  name: IpxeTargetName;
  /** Built together in one make run, since they share the platform's objects. */
  outputs: readonly TargetOutput[];
  /** CROSS= for make; empty for the host gcc, which builds all x86 targets without multilib. */
  cross: string;
}

/** Target names as --targets takes them. */
export const IPXE_TARGET_NAMES = ['bios', 'efi64', 'efi32', 'arm64'] as const;

/** One target name. */
export type IpxeTargetName = (typeof IPXE_TARGET_NAMES)[number];

/** The x86 targets, built when --targets is not given (arm64 needs a cross compiler). */
export const DEFAULT_TARGETS: readonly IpxeTargetName[] = ['bios', 'efi64', 'efi32'];

/** Every target with its make goals and output names (the names ProxyDHCP hands to firmware). */
export const IPXE_TARGETS: Readonly<Record<IpxeTargetName, IpxeTarget>> = {
  bios: { name: 'bios', outputs: [{ make: 'bin/undionly.kpxe', file: 'undionly.kpxe' }], cross: '' },
  efi64: {
    name: 'efi64',
    // snponly.efi drives the NIC through the firmware's own SNP driver, for NICs whose iPXE driver misbehaves.
    outputs: [{ make: 'bin-x86_64-efi/ipxe.efi', file: 'ipxe.efi' }, { make: 'bin-x86_64-efi/snponly.efi', file: 'snponly.efi' }],
    cross: '',
  },
  efi32: { name: 'efi32', outputs: [{ make: 'bin-i386-efi/ipxe.efi', file: 'ipxe32.efi' }], cross: '' },
  arm64: { name: 'arm64', outputs: [{ make: 'bin-arm64-efi/snp.efi', file: 'snp-arm64.efi' }], cross: 'aarch64-linux-gnu-' },
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
