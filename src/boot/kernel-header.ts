// Reads what a kernel file is from its first bytes: an x86 bzImage, an arm64 Image, a PE/COFF EFI program, gzip, or unknown. Pure.
import type { CpuArchitecture } from '../config/model.ts';

/** How many bytes of a kernel file the reader needs: every header it reads lies within them. */
export const KERNEL_HEADER_BYTES = 64 * 1024;

/** The PE/COFF entry of a kernel's EFI stub (or of a plain EFI program): the CPU its machine field names. */
export interface EfiEntry {
  /** IMAGE_FILE_HEADER.Machine as found. */
  machine: number;
  /** The CPU that machine means; undefined for machines bootstation has no platform for. */
  cpu?: CpuArchitecture;
}

/** What a kernel file is, as far as its header tells. */
export type KernelHeader =
  | {
      format: 'bzimage';
      /** x86_64 with XLF_KERNEL_64, i386 without it; undefined before boot protocol 2.12 (no xloadflags). */
      cpu?: 'i386' | 'x86_64';
      /** Boot protocol version, e.g. 0x020f. */
      protocol: number;
      /** XLF_EFI_HANDOVER_32 / _64: the EFI handover entry points (iPXE does not use them; see kernel-fit.ts). */
      handover: { efi32: boolean; efi64: boolean };
      /** The EFI stub, when the file is also a PE image. */
      efi?: EfiEntry;
    }
  | { format: 'arm64-image'; efi?: EfiEntry }
  /** A PE/COFF program that is no Linux kernel image: memtest86+'s .efi, GRUB, an EFI zboot kernel. */
  | { format: 'pe'; efi: EfiEntry }
  /** gzip-compressed: the reader inflates a bounded prefix and reads again. */
  | { format: 'gzip' }
  | { format: 'unknown' };

// Documentation/arch/x86/boot.rst ("THE REAL-MODE KERNEL HEADER"): the setup header's magic "HdrS" at 0x202,
// the protocol version at 0x206, xloadflags at 0x236 (protocol 2.12 and later).
const BZIMAGE_MAGIC_OFFSET = 0x202;
const BZIMAGE_MAGIC = 0x53726448; // "HdrS" read as little-endian u32
const BZIMAGE_VERSION_OFFSET = 0x206;
const BZIMAGE_XLOADFLAGS_OFFSET = 0x236;
const BZIMAGE_XLOADFLAGS_PROTOCOL = 0x020c;
const XLF_KERNEL_64 = 1 << 0;
const XLF_EFI_HANDOVER_32 = 1 << 2;
const XLF_EFI_HANDOVER_64 = 1 << 3;

// Documentation/arch/arm64/booting.rst ("Call the kernel image"): the Image header's magic "ARM\x64" at 0x38.
const ARM64_MAGIC_OFFSET = 0x38;
const ARM64_MAGIC = 0x644d5241;

// PE/COFF specification §2 (MS-DOS stub: "MZ", e_lfanew at 0x3c) and §3.3 (COFF file header after "PE\0\0":
// Machine is its first field); machine values from §3.3.1.
const MZ_MAGIC = 0x5a4d;
const PE_OFFSET_FIELD = 0x3c;
const PE_SIGNATURE = 0x00004550; // "PE\0\0"
const PE_MACHINES: ReadonlyMap<number, CpuArchitecture> = new Map([
  [0x014c, 'i386'],
  [0x8664, 'x86_64'],
  [0xaa64, 'arm64'],
]);

// RFC 1952 §2.3.1: ID1 ID2.
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Reads a kernel file's first bytes (KERNEL_HEADER_BYTES suffice); any bytes give an answer, never an exception. */
export function decodeKernelHeader(bytes: Uint8Array): KernelHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (offset: number): number | undefined => (offset + 2 <= view.byteLength ? view.getUint16(offset, true) : undefined);
  const u32 = (offset: number): number | undefined => (offset + 4 <= view.byteLength ? view.getUint32(offset, true) : undefined);
  const efi = peEntry(u16, u32);

  if (u32(BZIMAGE_MAGIC_OFFSET) === BZIMAGE_MAGIC) {
    const protocol = u16(BZIMAGE_VERSION_OFFSET) ?? 0;
    const flags = protocol >= BZIMAGE_XLOADFLAGS_PROTOCOL ? u16(BZIMAGE_XLOADFLAGS_OFFSET) : undefined;
    return {
      format: 'bzimage',
      ...(flags === undefined ? {} : { cpu: flags & XLF_KERNEL_64 ? 'x86_64' : 'i386' }),
      protocol,
      handover: { efi32: ((flags ?? 0) & XLF_EFI_HANDOVER_32) !== 0, efi64: ((flags ?? 0) & XLF_EFI_HANDOVER_64) !== 0 },
      ...(efi ? { efi } : {}),
    };
  }
  if (u32(ARM64_MAGIC_OFFSET) === ARM64_MAGIC) return { format: 'arm64-image', ...(efi ? { efi } : {}) };
  if (efi) return { format: 'pe', efi };
  if (bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) return { format: 'gzip' };
  return { format: 'unknown' };
}

// The PE machine when the bytes hold "MZ" and, at e_lfanew, "PE\0\0" followed by the machine field.
function peEntry(u16: (offset: number) => number | undefined, u32: (offset: number) => number | undefined): EfiEntry | undefined {
  if (u16(0) !== MZ_MAGIC) return undefined;
  const peOffset = u32(PE_OFFSET_FIELD);
  if (peOffset === undefined || u32(peOffset) !== PE_SIGNATURE) return undefined;
  const machine = u16(peOffset + 4);
  if (machine === undefined) return undefined;
  const cpu = PE_MACHINES.get(machine);
  return cpu ? { machine, cpu } : { machine };
}
