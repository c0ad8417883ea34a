// The QEMU command line of a lab VM for each firmware. Pure.
import type { LabFirmware } from './topology.ts';

/** Firmware files of Debian's ovmf and ovmf-ia32 packages. */
export const OVMF_FILES = {
  efi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
  // ovmf-ia32 ships only the secure-boot build (it needs SMM); secure boot stays off with its empty varstore.
  efi32: { code: '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd', vars: '/usr/share/OVMF/OVMF32_VARS_4M.fd' },
} as const;

/** What one lab VM needs. */
export interface VmSpec {
  firmware: LabFirmware;
  tap: string;
  mac: string;
  /** QEMU writes the guest's serial port here. */
  serialLog: string;
  /** A writable copy of the OVMF varstore (UEFI only). */
  efiVars?: string;
  memoryMiB?: number;
}

/** The QEMU command line that netboots one VM through its tap device. */
export function qemuCommand(vm: VmSpec): { command: string; args: string[] } {
  const common = [
    '-name', `bootstation-lab-${vm.firmware}`,
    // TCG only: /dev/kvm exists on the CI machines but nested KVM hangs the guest.
    '-accel', 'tcg',
    '-smp', '1',
    '-m', String(vm.memoryMiB ?? 512),
    '-nodefaults',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', `file:${vm.serialLog}`,
    // A guest that panics (panic=…) or reboots ends QEMU instead of netbooting again.
    '-no-reboot',
    '-netdev', `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
  ];
  if (vm.firmware === 'bios') {
    // graphics=off makes SeaBIOS (and the iPXE ROM through it) write its console to the serial port.
    // The e1000's default ROM is ipxe-qemu's iPXE, the client that must reach /boot.ipxe from ProxyDHCP.
    return {
      command: 'qemu-system-x86_64',
      args: [...common, '-machine', 'pc,graphics=off', '-device', `e1000,netdev=net0,mac=${vm.mac}`, '-boot', 'n'],
    };
  }
  if (!vm.efiVars) throw new Error(`the ${vm.firmware} VM needs a writable copy of the OVMF varstore`);
  const ovmf = OVMF_FILES[vm.firmware];
  const flash = [
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${ovmf.code}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${vm.efiVars}`,
  ];
  // romfile= (empty) keeps iPXE's ROM off the NIC, so EDK2's own PXE client does the first stage;
  // bootindex puts the NIC first in OVMF's boot order.
  const nic = ['-device', `virtio-net-pci,netdev=net0,mac=${vm.mac},romfile=,bootindex=1`];
  if (vm.firmware === 'efi') {
    return { command: 'qemu-system-x86_64', args: [...common, '-machine', 'q35', ...flash, ...nic] };
  }
  // The secure-boot OVMF32 build refuses to start without SMM and a secure flash.
  return {
    command: 'qemu-system-i386',
    args: [...common, '-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on', ...flash, ...nic],
  };
}
