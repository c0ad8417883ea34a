// The lab's network: three namespaces on one bridge, with addresses that exist nowhere else.
//
//   <prefix>-router  eth0 10.77.0.1/24   dnsmasq: plain DHCP (addresses and a gateway, no PXE options)
//   <prefix>-nas     eth0 10.77.0.2/24   bootstation serve
//   <prefix>-switch  br0 + one veth per host + one tap per VM firmware (QEMU runs here)

import { PLATFORMS, type BootTransport } from '../../src/boot/platform.ts';

type LabPlatform = Extract<(typeof PLATFORMS)[number], { labFirmware: string }>;
// Rows whose firmware also boots over UEFI HTTP Boot (their option 93 list for http is not empty).
type HttpBootPlatform = Exclude<LabPlatform, { architectures: { http: readonly [] } }>;

/** Suffix of the lab firmware names that start with UEFI HTTP Boot instead of PXE (e.g. efi-http). */
const HTTP_BOOT_SUFFIX = '-http';

/**
 * A `bootstation lab --firmware` name: the labFirmware of a row of src/boot/platform.ts (its firmware's PXE),
 * or that name with -http for a UEFI row (the same firmware with PXE off, so it starts with HTTP Boot).
 */
export type LabFirmware = LabPlatform['labFirmware'] | `${HttpBootPlatform['labFirmware']}${typeof HTTP_BOOT_SUFFIX}`;

/** Firmware kinds the lab can boot, in the platform table's order, each PXE name before its HTTP Boot one. */
export const LAB_FIRMWARE: readonly LabFirmware[] = PLATFORMS.flatMap((platform): LabFirmware[] => {
  if (!('labFirmware' in platform)) return [];
  const http = platform.architectures.http.length > 0 ? [`${platform.labFirmware}${HTTP_BOOT_SUFFIX}` as LabFirmware] : [];
  return [platform.labFirmware, ...http];
});

/** How a lab VM of this firmware loads its first stage: PXE over TFTP, or UEFI HTTP Boot. */
export function labTransport(firmware: LabFirmware): BootTransport {
  return firmware.endsWith(HTTP_BOOT_SUFFIX) ? 'http' : 'pxe';
}

/** The platform table row a lab VM of this firmware boots as. */
export function labPlatform(firmware: LabFirmware): LabPlatform {
  const name = labTransport(firmware) === 'http' ? firmware.slice(0, -HTTP_BOOT_SUFFIX.length) : firmware;
  const platform = PLATFORMS.find((row): row is LabPlatform => 'labFirmware' in row && row.labFirmware === name);
  if (!platform) throw new Error(`no row of src/boot/platform.ts has labFirmware "${name}"`);
  return platform;
}

/** Names and addresses of one lab; the prefix keeps the test's lab apart from a user's `bootstation lab`. */
export interface LabTopology {
  prefix: string;
  namespaces: { router: string; nas: string; switch: string };
  bridge: string;
  /** Interface name of each host inside its own namespace. */
  hostInterface: string;
  /** The switch-side veth of each host. */
  switchPorts: { router: string; nas: string };
  subnet: { prefixLength: number; router: string; nas: string; rangeStart: string; rangeEnd: string };
  /** Tap device (in the switch namespace) and MAC address of each VM. */
  vms: Record<LabFirmware, { tap: string; mac: string }>;
}

/** The lab topology for a namespace prefix (letters, digits and dashes, at most 8 characters). */
export function labTopology(prefix: string): LabTopology {
  if (!/^[a-z][a-z0-9-]{0,7}$/.test(prefix)) throw new Error(`lab prefix "${prefix}" must be 1-8 lower-case letters, digits or dashes`);
  return {
    prefix,
    namespaces: { router: `${prefix}-router`, nas: `${prefix}-nas`, switch: `${prefix}-switch` },
    bridge: 'br0',
    hostInterface: 'eth0',
    switchPorts: { router: 'vrouter', nas: 'vnas' },
    subnet: { prefixLength: 24, router: '10.77.0.1', nas: '10.77.0.2', rangeStart: '10.77.0.100', rangeEnd: '10.77.0.199' },
    // One tap and MAC per firmware, so VMs of every kind can run in one lab at once.
    vms: Object.fromEntries(
      LAB_FIRMWARE.map((firmware, index) => [firmware, { tap: `tap-${firmware}`, mac: `52:54:00:77:00:${(index + 1).toString(16).padStart(2, '0')}` }]),
    ) as LabTopology['vms'],
  };
}

/**
 * How a command enters one of the lab's hosts. `netns-exec` (`ip netns exec`) also gives it a fresh /sys
 * and the namespace's /etc/netns files; `network-only` (`nsenter --net`) joins just the network namespace
 * and keeps the mounts, which dockerd needs: under `ip netns exec` it cannot see the cgroup mounts and
 * fails with "Devices cgroup isn't mounted".
 */
export type LabEntry = 'netns-exec' | 'network-only';

/** The argv that runs argv inside one of the lab's hosts. */
export function commandInHost(lab: LabTopology, host: keyof LabTopology['namespaces'], argv: readonly string[], entry: LabEntry = 'netns-exec'): string[] {
  const ns = lab.namespaces[host];
  return entry === 'netns-exec' ? ['ip', 'netns', 'exec', ns, ...argv] : ['nsenter', `--net=/var/run/netns/${ns}`, '--', ...argv];
}

/** One command the network set-up runs, as an argv. */
export type Command = readonly string[];

/** The commands that build the lab network from nothing, in order (`ip`, then `ethtool`). */
export function labNetworkCommands(lab: LabTopology): Command[] {
  const { router, nas, switch: sw } = lab.namespaces;
  const eth = lab.hostInterface;
  const commands: Command[] = [
    ['ip', 'netns', 'add', sw],
    ['ip', 'netns', 'add', router],
    ['ip', 'netns', 'add', nas],
    // STP off and no forward delay: a port forwards as soon as it is up, so the first DHCPDISCOVER of a
    // firmware that just opened its tap is not dropped.
    ['ip', '-n', sw, 'link', 'add', lab.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'],
    ['ip', '-n', sw, 'link', 'set', lab.bridge, 'up'],
  ];
  const hosts = [
    { ns: router, port: lab.switchPorts.router, address: lab.subnet.router },
    { ns: nas, port: lab.switchPorts.nas, address: lab.subnet.nas },
  ];
  for (const host of hosts) {
    commands.push(
      ['ip', '-n', sw, 'link', 'add', host.port, 'type', 'veth', 'peer', 'name', eth, 'netns', host.ns],
      ['ip', '-n', sw, 'link', 'set', host.port, 'master', lab.bridge, 'up'],
      ['ip', '-n', host.ns, 'link', 'set', 'lo', 'up'],
      ['ip', '-n', host.ns, 'address', 'add', `${host.address}/${lab.subnet.prefixLength}`, 'dev', eth],
      ['ip', '-n', host.ns, 'link', 'set', eth, 'up'],
    );
  }
  for (const { tap } of Object.values(lab.vms)) {
    commands.push(['ip', '-n', sw, 'tuntap', 'add', 'dev', tap, 'mode', 'tap'], ['ip', '-n', sw, 'link', 'set', tap, 'master', lab.bridge, 'up']);
  }
  // A veth hands packets on with the UDP checksum left to "hardware" (CHECKSUM_PARTIAL); through the
  // bridge and a tap QEMU's guest then sees a wrong checksum and firmware drops the DHCP offer.
  for (const host of hosts) {
    commands.push(['ip', 'netns', 'exec', host.ns, 'ethtool', '-K', eth, 'tx', 'off'], ['ip', 'netns', 'exec', sw, 'ethtool', '-K', host.port, 'tx', 'off']);
  }
  return commands;
}
