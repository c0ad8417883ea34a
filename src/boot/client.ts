// What an iPXE client says about itself in the query of /boot.ipxe and /menu.ipxe, read defensively. Pure.
import type { FirmwareFamily } from '../config/model.ts';
import { familyOfIpxePlatform, platformOfIpxe, PLATFORMS, type PlatformId } from './platform.ts';
import { MAC_ADDRESS, normalizeMacAddress } from '../text/mac-address.ts';

/** What an iPXE client told us about itself in the query string of /boot.ipxe or /menu.ipxe. */
export interface BootClient {
  /** Lower-case, colon-separated. */
  mac?: string;
  /** iPXE's ${platform}: pcbios, efi, … */
  platform?: string;
  /** iPXE's ${buildarch}: i386, x86_64, arm64, … */
  buildarch?: string;
  /** The query carried a mac parameter, usable or not: the client was already asked who it is. */
  reported?: boolean;
}

const WORD = /^[a-z0-9_]{1,16}$/;

/** Reads the client's identity from query parameters, dropping anything malformed (they are attacker-controlled). */
export function parseBootClient(query: Readonly<Record<string, unknown>>): BootClient {
  const client: BootClient = {};
  if ('mac' in query) client.reported = true;
  const mac = query['mac'];
  if (typeof mac === 'string' && MAC_ADDRESS.test(mac)) client.mac = normalizeMacAddress(mac);
  const platform = query['platform'];
  if (typeof platform === 'string' && WORD.test(platform)) client.platform = platform;
  const buildarch = query['buildarch'];
  if (typeof buildarch === 'string' && WORD.test(buildarch)) client.buildarch = buildarch;
  return client;
}

/** The firmware family an iPXE ${platform} belongs to (from the platform table); undefined when unknown, so nothing is hidden. */
export function firmwareFamily(client: BootClient): FirmwareFamily | undefined {
  return familyOfIpxePlatform(client.platform);
}

/** The query string that carries a client's identity to the next script. */
export function clientQuery(client: BootClient): string {
  const params = new URLSearchParams();
  if (client.mac) params.set('mac', client.mac);
  if (client.platform) params.set('platform', client.platform);
  if (client.buildarch) params.set('buildarch', client.buildarch);
  const query = params.toString();
  return query ? `?${query}` : '';
}

/**
 * The client's platform row: from iPXE's ${platform} and ${buildarch}, else the row ProxyDHCP learnt from its
 * option 93 when that agrees with the firmware family iPXE reported; undefined when neither says.
 */
export function clientPlatform(client: BootClient, dhcpPlatform?: PlatformId): (typeof PLATFORMS)[number] | undefined {
  const reported = platformOfIpxe(client.platform, client.buildarch);
  if (reported) return reported;
  const learnt = PLATFORMS.find((platform) => platform.id === dhcpPlatform);
  const family = firmwareFamily(client);
  return learnt && (!family || learnt.family === family) ? learnt : undefined;
}
