// The QEMU command line of a lab VM for each firmware. Pure.
import { labPlatform, labTransport, type LabFirmware } from './topology.ts';

/** A UEFI firmware of the lab, by the platform row's labFirmware. */
export type UefiFirmware = 'efi' | 'efi32' | 'arm64';

/** Firmware files of Debian's ovmf, ovmf-ia32 and qemu-efi-aarch64 packages, and the package of each. */
export const UEFI_FILES: Readonly<Record<UefiFirmware, { code: string; vars: string; pkg: string }>> = {
  efi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd', pkg: 'ovmf' },
  // ovmf-ia32 ships only the secure-boot build (it needs SMM); secure boot stays off with its empty varstore.
  efi32: { code: '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd', vars: '/usr/share/OVMF/OVMF32_VARS_4M.fd', pkg: 'ovmf-ia32' },
  // AAVMF: EDK2 for QEMU's arm64 virt machine; both files are the 64 MiB flash banks virt expects.
  arm64: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
};

/** The UEFI firmware a lab VM runs, or undefined for BIOS (SeaBIOS). */
export function uefiFirmware(firmware: LabFirmware): UefiFirmware | undefined {
  const name = labPlatform(firmware).labFirmware;
  return name === 'bios' ? undefined : name;
}

/** The QEMU system emulator of a lab VM, and the Debian package that ships it. */
export function qemuSystem(firmware: LabFirmware): { command: string; pkg: string } {
  const uefi = uefiFirmware(firmware);
  if (uefi === 'arm64') return { command: 'qemu-system-aarch64', pkg: 'qemu-system-arm' };
  return { command: uefi === 'efi32' ? 'qemu-system-i386' : 'qemu-system-x86_64', pkg: 'qemu-system-x86' };
}

/** What one lab VM needs. */
export interface VmSpec {
  firmware: LabFirmware;
  tap: string;
  mac: string;
  /** QEMU writes the guest's serial port here. */
  serialLog: string;
  /** A writable copy of the UEFI varstore (UEFI only). */
  efiVars?: string;
  memoryMiB?: number;
}

/** The QEMU command line that netboots one VM through its tap device. */
export function qemuCommand(vm: VmSpec): { command: string; args: string[] } {
  const uefi = uefiFirmware(vm.firmware);
  const { command } = qemuSystem(vm.firmware);
  const common = [
    '-name', `bootstation-lab-${vm.firmware}`,
    // TCG only: /dev/kvm exists on the CI machines but nested KVM hangs the guest.
    '-accel', 'tcg',
    '-smp', '1',
    // The arm64 kernel and its EFI stub need more than 512 MiB under AAVMF (measured in issue 16: 1024 works).
    '-m', String(vm.memoryMiB ?? (uefi === 'arm64' ? 1024 : 512)),
    '-nodefaults',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', `file:${vm.serialLog}`,
    // A guest that panics (panic=…) or reboots ends QEMU instead of netbooting again.
    '-no-reboot',
    '-netdev', `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
  ];
  if (uefi === undefined) {
    // graphics=off makes SeaBIOS (and the iPXE ROM through it) write its console to the serial port.
    // The e1000's default ROM is ipxe-qemu's iPXE, the client that must reach /boot.ipxe from ProxyDHCP.
    return { command, args: [...common, '-machine', 'pc,graphics=off', '-device', `e1000,netdev=net0,mac=${vm.mac}`, '-boot', 'n'] };
  }
  if (!vm.efiVars) throw new Error(`the ${vm.firmware} VM needs a writable copy of the UEFI varstore`);
  const flash = [
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${UEFI_FILES[uefi].code}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${vm.efiVars}`,
  ];
  // romfile= (empty) keeps iPXE's ROM off the NIC, so EDK2's own PXE or HTTP Boot client does the first stage;
  // bootindex puts the NIC first in the firmware's boot order.
  const nic = ['-device', `virtio-net-pci,netdev=net0,mac=${vm.mac},romfile=,bootindex=1`];
  // OVMF and AAVMF read these fw_cfg knobs (PcdIPv4PXESupport, PcdIPv6PXESupport): with PXE off, the NIC's
  // first boot option is UEFI HTTP Boot over IPv4 (issue 16: OVMF then sends option 93=16, AAVMF 19).
  const httpBoot = labTransport(vm.firmware) === 'http'
    ? ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n']
    : [];
  if (uefi === 'efi') return { command, args: [...common, '-machine', 'q35', ...flash, ...nic, ...httpBoot] };
  // cortex-a57: -cpu max emulates about 4 times slower under TCG (issue 16).
  if (uefi === 'arm64') return { command, args: [...common, '-machine', 'virt', '-cpu', 'cortex-a57', ...flash, ...nic, ...httpBoot] };
  // The secure-boot OVMF32 build refuses to start without SMM and a secure flash.
  return {
    command,
    args: [...common, '-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on', ...flash, ...nic, ...httpBoot],
  };
}
