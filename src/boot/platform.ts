// The platform table: one row per client platform, and every fact about it that DHCP, the iPXE build, the
// menu, the doctor and the lab need. Adding a platform is one row here plus its tests.
import type { CpuArchitecture, FirmwareFamily } from '../config/model.ts';

/** How firmware loads its first stage: PXE (TFTP) or UEFI HTTP Boot. */
export type BootTransport = 'pxe' | 'http';

/**
 * The vendor class (option 60) prefix each transport's clients send and expect back: PXE 2.1 §2.2.1 and
 * UEFI 2.x §24.7.
 */
export const VENDOR_CLASS_PREFIX: Readonly<Record<BootTransport, string>> = { pxe: 'PXEClient', http: 'HTTPClient' };

// A CPU architecture as iPXE's ${buildarch} names it (config/model.ts owns the list, which images.yaml's arch: takes).
export type { CpuArchitecture };

/** One make goal of iPXE's src/Makefile and the name bootstation serves its output under. */
export interface BuildOutput {
  make: string;
  file: string;
}

/** One client platform. */
export interface Platform {
  /** The name logs, events, metrics and the dashboard use, e.g. "efi-x64". */
  id: string;
  /** What the doctor and the dashboard call it, e.g. "x64 UEFI". */
  displayName: string;
  /** RFC 4578 §2.1 option 93 values (IANA "Processor Architecture Types") this platform sends, per transport. */
  architectures: Readonly<Record<BootTransport, readonly number[]>>;
  /** iPXE's ${platform} and ${buildarch} on this platform, as it reports them to /boot.ipxe and /menu.ipxe. */
  ipxe: { platform: string; buildarch: CpuArchitecture };
  /** The firmware family images.yaml's `firmware:` names. */
  family: FirmwareFamily;
  cpu: CpuArchitecture;
  /** The file ProxyDHCP hands this platform's firmware (TFTP name, or /ipxe/<file> for HTTP Boot). */
  firstStage: string;
  /**
   * The iPXE build target (`bootstation ipxe build --targets`, the Docker build argument TARGETS): its make
   * goals, built together in one make run since they share the platform's objects, and the names their outputs
   * are served under. firstStage is one of them.
   */
  build: { target: string; outputs: readonly BuildOutput[] };
  /** The doctor fails without this platform's first stage (BIOS and x64 UEFI are the PCs one meets); else it warns. */
  required: boolean;
  /** Debian's `ipxe` package ships this platform's first stage (in /usr/lib/ipxe). */
  inDebianIpxe: boolean;
  /** `bootstation lab --firmware` name of the VM that boots this platform; undefined: the lab has no such VM. */
  labFirmware?: string;
}

/**
 * Every platform bootstation boots, in build order (the manifest and the doctor list them this way).
 * x64 firmware sends 7 (RFC 4578 calls it "EFI BC"); some sends 9, so both mean x64 (as pixiecore and smee read it).
 */
export const PLATFORMS = [
  {
    id: 'bios',
    displayName: 'BIOS',
    architectures: { pxe: [0], http: [] },
    ipxe: { platform: 'pcbios', buildarch: 'i386' },
    family: 'bios',
    cpu: 'i386',
    firstStage: 'undionly.kpxe',
    build: { target: 'bios', outputs: [{ make: 'bin/undionly.kpxe', file: 'undionly.kpxe' }] },
    required: true,
    inDebianIpxe: true,
    labFirmware: 'bios',
  },
  {
    id: 'efi-x64',
    displayName: 'x64 UEFI',
    architectures: { pxe: [7, 9], http: [16] },
    ipxe: { platform: 'efi', buildarch: 'x86_64' },
    family: 'efi',
    cpu: 'x86_64',
    firstStage: 'ipxe.efi',
    build: {
      target: 'efi64',
      // snponly.efi drives the NIC through the firmware's own SNP driver, for NICs whose iPXE driver misbehaves.
      outputs: [{ make: 'bin-x86_64-efi/ipxe.efi', file: 'ipxe.efi' }, { make: 'bin-x86_64-efi/snponly.efi', file: 'snponly.efi' }],
    },
    required: true,
    inDebianIpxe: true,
    labFirmware: 'efi',
  },
  {
    id: 'efi-ia32',
    displayName: '32-bit UEFI',
    architectures: { pxe: [6], http: [15] },
    ipxe: { platform: 'efi', buildarch: 'i386' },
    family: 'efi',
    cpu: 'i386',
    firstStage: 'ipxe32.efi',
    build: { target: 'efi32', outputs: [{ make: 'bin-i386-efi/ipxe.efi', file: 'ipxe32.efi' }] },
    required: false,
    inDebianIpxe: false,
    labFirmware: 'efi32',
  },
  {
    id: 'efi-arm64',
    displayName: 'arm64 UEFI',
    architectures: { pxe: [11], http: [19] },
    ipxe: { platform: 'efi', buildarch: 'arm64' },
    family: 'efi',
    cpu: 'arm64',
    firstStage: 'snp-arm64.efi',
    build: { target: 'arm64', outputs: [{ make: 'bin-arm64-efi/snp.efi', file: 'snp-arm64.efi' }] },
    required: false,
    inDebianIpxe: false,
    labFirmware: 'arm64',
  },
] as const satisfies readonly Platform[];

/** A platform id: "bios", "efi-x64", "efi-ia32", "efi-arm64". */
export type PlatformId = (typeof PLATFORMS)[number]['id'];

/** Every first-stage file ProxyDHCP hands out, in table order. */
export const FIRST_STAGE_FILES: readonly string[] = PLATFORMS.map((platform) => platform.firstStage);

/** The platform and transport of an option 93 value, or undefined when no row boots it. */
export function platformOfArchitecture(architecture: number): { platform: (typeof PLATFORMS)[number]; transport: BootTransport } | undefined {
  for (const platform of PLATFORMS) {
    for (const transport of ['pxe', 'http'] as const) {
      if ((platform.architectures[transport] as readonly number[]).includes(architecture)) return { platform, transport };
    }
  }
  return undefined;
}

/** The platform iPXE's ${platform} and ${buildarch} describe; undefined when unknown or incomplete. */
export function platformOfIpxe(ipxePlatform: string | undefined, buildarch: string | undefined): (typeof PLATFORMS)[number] | undefined {
  return PLATFORMS.find((platform) => platform.ipxe.platform === ipxePlatform && platform.ipxe.buildarch === buildarch);
}

/** The firmware family iPXE's ${platform} belongs to (pcbios → bios, efi → efi); undefined when unknown. */
export function familyOfIpxePlatform(ipxePlatform: string | undefined): FirmwareFamily | undefined {
  return PLATFORMS.find((platform) => platform.ipxe.platform === ipxePlatform)?.family;
}

/** The row of a platform id. */
function platformById(id: PlatformId): (typeof PLATFORMS)[number] {
  const platform = PLATFORMS.find((row) => row.id === id);
  if (!platform) throw new Error(`no platform "${id}" in src/boot/platform.ts`);
  return platform;
}

/** The first-stage file of a platform id, e.g. "efi-arm64" → "snp-arm64.efi". */
export function firstStageFile(id: PlatformId): string {
  return platformById(id).firstStage;
}

/** What a netboot client runs when it asks DHCP: its firmware's PXE, its firmware's HTTP Boot, or iPXE. */
export type ClientStage = 'pxe' | 'http' | 'ipxe';

const CLIENT_STAGE_NAMES: Readonly<Record<ClientStage, string>> = { pxe: 'PXE', http: 'HTTP Boot', ipxe: 'iPXE' };

/** The label logs, events and metrics give a client: its platform id and stage, e.g. "efi-x64-http". */
export function clientKind(platform: Pick<Platform, 'id'>, stage: ClientStage): string {
  return `${platform.id}-${stage}`;
}

/** A client kind as people read it, e.g. "efi-x64-http" → "x64 UEFI, HTTP Boot"; undefined for any other text. */
export function clientKindName(kind: string): string | undefined {
  const known = platformOfClientKind(kind);
  return known && `${known.platform.displayName}, ${CLIENT_STAGE_NAMES[known.stage]}`;
}

/** The platform row and stage a client kind names ("efi-ia32-ipxe" → the efi-ia32 row, ipxe); undefined for any other text. */
export function platformOfClientKind(kind: string): { platform: (typeof PLATFORMS)[number]; stage: ClientStage } | undefined {
  for (const platform of PLATFORMS) {
    for (const stage of ['pxe', 'http', 'ipxe'] as const) {
      if (kind === clientKind(platform, stage)) return { platform, stage };
    }
  }
  return undefined;
}
