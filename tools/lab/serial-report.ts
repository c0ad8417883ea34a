// Reads what the test initrd and the firmware wrote on a VM's serial console. Pure.
import { SERIAL_PREFIX } from './initrd-files.ts';

/** What the test initrd reported on the serial console. */
export interface SerialReport {
  /** /init ran: the kernel booted the test initrd. */
  marker: boolean;
  /** What `uname -m` said: the architecture of the kernel that ran (x86_64, i686, aarch64). */
  machine?: string;
  /** The kernel command line, as /proc/cmdline showed it. */
  cmdline?: string;
  /** The netboot= fetch: ok with the checksum, or failed with the reason. */
  netboot?: { ok: true; sha256: string; url: string } | { ok: false; reason: string };
  /** /init finished and is powering off. */
  done: boolean;
}

// CSI sequences (colours, cursor moves) that iPXE, SeaBIOS and OVMF write to the console.
const ANSI = /\x1b\[[0-9;?=>]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHM]/g;

/**
 * Serial output as plain text lines, as a terminal would show them: no escape sequences or NULs, and a
 * lone carriage return (progress counters like EDK2's "Downloading...42%") overwrites its line.
 */
export function cleanSerialText(raw: string): string {
  return raw
    .replace(ANSI, '')
    .replace(/[\0\x07\x08]/g, '')
    .split(/\r*\n/)
    .map((line) => line.slice(line.lastIndexOf('\r') + 1))
    .join('\n');
}

/** Reads the test initrd's lines out of a serial log. */
export function readSerialReport(raw: string): SerialReport {
  const report: SerialReport = { marker: false, done: false };
  for (const line of cleanSerialText(raw).split('\n')) {
    const at = line.indexOf(`${SERIAL_PREFIX} `);
    if (at < 0) continue;
    const body = line.slice(at + SERIAL_PREFIX.length + 1);
    const field = /^([a-z]+): ?(.*)$/.exec(body);
    if (!field) continue;
    const [, key, value = ''] = field;
    if (key === 'marker') report.marker = true;
    else if (key === 'machine') report.machine = value.trim();
    else if (key === 'cmdline') report.cmdline = value.trim();
    else if (key === 'done') report.done = true;
    else if (key === 'netboot') {
      const ok = /^ok sha256=([0-9a-f]{64}) url=(\S+)$/.exec(value.trim());
      report.netboot = ok ? { ok: true, sha256: ok[1] ?? '', url: ok[2] ?? '' } : { ok: false, reason: value.replace(/^failed\s*/, '').trim() };
    }
  }
  return report;
}

// What firmware prints when it has tried every boot option and stopped: SeaBIOS, and OVMF either
// falling into its built-in shell or finding nothing at all; and iPXE refusing the kernel it fetched
// ("Could not boot", e.g. an i386 kernel on x64 UEFI), after which bootstation's menu waits for a key.
const GAVE_UP = /No bootable device|UEFI Interactive Shell|No bootable option or device was found|Could not boot: /;

/** The line where the firmware (or iPXE) gave up booting, if it did. */
export function firmwareGaveUp(raw: string): string | undefined {
  return cleanSerialText(raw).split('\n').find((line) => GAVE_UP.test(line))?.trim();
}

/** Steps of a netboot, in order, with the console text that shows a firmware got there. */
export const BOOT_STEPS = [
  { step: 'firmware', pattern: /SeaBIOS|BdsDxe|UEFI|iPXE/ },
  { step: 'DHCP', pattern: /DHCP \(net\d|Start PXE over IPv4|Start HTTP Boot over IPv4|Configuring \(net\d|Station IP address is/ },
  { step: 'TFTP', pattern: /NBP filename is|Downloading NBP file|tftp:\/\//i },
  // iPXE's scripts, UEFI HTTP Boot's first stage (EDK2 prints its URI) and the GRUB stand-in's (http,…) files.
  { step: 'HTTP', pattern: /http:\/\/\S+boot\.ipxe|http:\/\/\S+menu\.ipxe|URI: http:\/\/|\(http,/ },
  { step: 'kernel', pattern: /Linux version|Decompressing Linux|EFI stub:/ },
  { step: 'initrd', pattern: new RegExp(`${SERIAL_PREFIX} marker`) },
] as const;

/** A boot step name. */
export type BootStep = (typeof BOOT_STEPS)[number]['step'];

/** The furthest boot step the serial console shows, or undefined when it shows nothing yet. */
export function furthestBootStep(raw: string): BootStep | undefined {
  const text = cleanSerialText(raw);
  let furthest: BootStep | undefined;
  for (const { step, pattern } of BOOT_STEPS) if (pattern.test(text)) furthest = step;
  return furthest;
}
