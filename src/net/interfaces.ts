// The interface and IPv4 address bootstation serves on: default route, addresses, MTU.
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';

/** The interface and IPv4 address bootstation serves on and advertises to clients. */
export interface ServingAddress {
  interface?: string;
  address: string;
  /** Why these were chosen, for the start-up log. */
  source: string;
}

/** Name of the interface that holds the IPv4 default route, from /proc/net/route. */
export async function defaultRouteInterface(routeTable = '/proc/net/route'): Promise<string | undefined> {
  const text = await readFile(routeTable, 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(1)) {
    const [name, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (name && destination === '00000000' && mask === '00000000') return name;
  }
  return undefined;
}

/** First IPv4 address of an interface. */
export function interfaceAddress(name: string): string | undefined {
  return networkInterfaces()[name]?.find((entry) => entry.family === 'IPv4')?.address;
}

/** MTU of an interface from sysfs; undefined when unknown. */
export async function interfaceMtu(name: string): Promise<number | undefined> {
  const text = await readFile(`/sys/class/net/${name}/mtu`, 'utf8').catch(() => undefined);
  const mtu = Number(text);
  return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined;
}

/** The interface owning an IPv4 address, if any. */
export function interfaceOf(address: string): string | undefined {
  for (const [name, entries] of Object.entries(networkInterfaces())) {
    if (entries?.some((entry) => entry.family === 'IPv4' && entry.address === address)) return name;
  }
  return undefined;
}

/**
 * Resolves the serving address: an explicit address wins (its interface is looked up), then the
 * explicit interface's first address, then the default route's interface. Throws a user-facing
 * error when nothing fits.
 */
export async function resolveServingAddress(wanted: { interface?: string; address?: string }): Promise<ServingAddress> {
  if (wanted.address) {
    return { address: wanted.address, interface: wanted.interface ?? interfaceOf(wanted.address), source: 'configured address' };
  }
  if (wanted.interface) {
    const address = interfaceAddress(wanted.interface);
    if (!address) throw new Error(`interface ${wanted.interface} has no IPv4 address; check server.interface or --interface (see \`ip -4 addr\`).`);
    return { interface: wanted.interface, address, source: `first IPv4 address of ${wanted.interface}` };
  }
  const name = await defaultRouteInterface();
  const address = name ? interfaceAddress(name) : undefined;
  if (name && address) return { interface: name, address, source: `default route interface ${name}` };
  throw new Error('no default route to pick an interface from; set server.interface or server.address in images.yaml, or pass --interface / --address.');
}
