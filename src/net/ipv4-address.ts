// Which IPv4 addresses name one host: the check DHCP relay addresses pass in images.yaml and in a packet's giaddr.

/** Why an IPv4 address is not one host's unicast address (RFC 1122 §3.2.1.3, RFC 5771, RFC 1112), or undefined. */
export function nonUnicastKind(address: string): string | undefined {
  const first = Number(address.split('.', 1)[0]);
  if (address === '255.255.255.255') return 'the limited broadcast';
  if (first === 0) return '"this network" (0.0.0.0/8)';
  if (first === 127) return 'loopback';
  if (first >= 224 && first <= 239) return 'multicast';
  if (first >= 240) return 'reserved (240.0.0.0/4)';
  return undefined;
}
