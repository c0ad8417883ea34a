// The CPU architectures the lab boots a test kernel on, and what each needs from Debian. Pure data.
import type { CpuArchitecture } from '../../src/boot/platform.ts';

/** A Debian architecture name the lab has a test kernel for. */
export type LabArch = 'amd64' | 'i386' | 'arm64';

/** What the lab needs to boot its test kernel and initrd on one architecture. */
export interface LabArchitecture {
  /** Debian's meta package whose first dependency is the current kernel image package. */
  kernelMetaPackage: string;
  /** NIC drivers the initrd loads, which Debian builds as modules (their dependencies come along). */
  nicModules: readonly string[];
  /** Debian's busybox-static of this architecture; undefined: the host's own STATIC_BUSYBOX runs there. */
  busyboxPackage?: string;
  /** The kernel's serial console on the lab's VM of this architecture. */
  console: string;
  /** What `uname -m` says under this kernel. */
  machine: string;
  /** The architecture as iPXE's ${buildarch} and images.yaml's `arch:` name it. */
  cpu: CpuArchitecture;
}

/**
 * The lab's architectures, in the order the lab image lists their boot specs: i386 before amd64, so an x64
 * client booting the amd64 kernel proves the CPU-aware choice (a BIOS client, which may be 32-bit, boots i386).
 */
export const LAB_ARCHITECTURES: Readonly<Record<LabArch, LabArchitecture>> = {
  // 686 is Debian's i386 flavour with a 32-bit EFI stub, which ipxe32.efi can start on 32-bit UEFI.
  i386: { kernelMetaPackage: 'linux-image-686:i386', nicModules: ['e1000', 'virtio_pci', 'virtio_net'], busyboxPackage: 'busybox-static:i386', console: 'ttyS0', machine: 'i686', cpu: 'i386' },
  // e1000 for the BIOS VM, virtio-net for the UEFI ones.
  amd64: { kernelMetaPackage: 'linux-image-amd64', nicModules: ['e1000', 'virtio_pci', 'virtio_net'], console: 'ttyS0', machine: 'x86_64', cpu: 'x86_64' },
  // The arm64 kernel builds the virtio core in (CONFIG_VIRTIO=y) but virtio_pci and virtio_net as modules;
  // QEMU's virt machine has a PL011 UART, ttyAMA0.
  arm64: { kernelMetaPackage: 'linux-image-arm64:arm64', nicModules: ['virtio_pci', 'virtio_net'], busyboxPackage: 'busybox-static:arm64', console: 'ttyAMA0', machine: 'aarch64', cpu: 'arm64' },
};

/** Every lab architecture, in LAB_ARCHITECTURES' order. */
export const LAB_ARCHS = Object.keys(LAB_ARCHITECTURES) as LabArch[];

/** The lab architecture whose kernel a CPU (as iPXE's ${buildarch} names it) runs. */
export function labArchOfCpu(cpu: CpuArchitecture): LabArch {
  const arch = LAB_ARCHS.find((name) => LAB_ARCHITECTURES[name].cpu === cpu);
  if (!arch) throw new Error(`the lab has no test kernel for CPU architecture ${cpu}; add it to tools/lab/architectures.ts`);
  return arch;
}
