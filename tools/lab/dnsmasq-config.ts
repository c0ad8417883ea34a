// Renders the lab router's dnsmasq configuration: plain DHCP, no PXE options. Pure.
import type { LabTopology } from './topology.ts';

/** Files the router's dnsmasq writes, inside the lab's work folder. */
export interface RouterDnsmasqFiles {
  leaseFile: string;
  pidFile: string;
  logFile: string;
}

/**
 * dnsmasq.conf for the lab's "home router": addresses and a gateway only. No dhcp-boot, no
 * next-server, no PXE options, so every boot instruction a VM gets must come from bootstation's ProxyDHCP.
 */
export function renderRouterDnsmasqConfig(lab: LabTopology, files: RouterDnsmasqFiles): string {
  return [
    '# bootstation lab: the home router, a plain DHCP server',
    'port=0', // no DNS: nothing in the lab resolves names
    `interface=${lab.hostInterface}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'user=root', // the lease and log files live in the lab's work folder, owned by root
    `pid-file=${files.pidFile}`,
    `dhcp-leasefile=${files.leaseFile}`,
    `log-facility=${files.logFile}`,
    'log-dhcp',
    `dhcp-range=${lab.subnet.rangeStart},${lab.subnet.rangeEnd},255.255.255.0,1h`,
    `dhcp-option=option:router,${lab.subnet.router}`,
    'dhcp-authoritative',
    '',
  ].join('\n');
}
