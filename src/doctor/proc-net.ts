// Parsers for Linux's socket tables (/proc/net/{udp,tcp}{,6}) and /proc/<pid>/fd links. Pure: text in, values out.

/** One socket bound to a local port. */
export interface BoundSocket {
  protocol: 'udp' | 'tcp';
  address: string;
  port: number;
  /** The socket's inode, which /proc/<pid>/fd/<n> links name as socket:[inode]. */
  inode: number;
}

// include/net/tcp_states.h: TCP_LISTEN is 10. UDP sockets report 07 (TCP_CLOSE) whether bound or not.
const TCP_LISTEN = 0x0a;

/**
 * The listening TCP sockets or the bound UDP sockets of one /proc/net table. Addresses are hex in host byte
 * order per 32-bit word (little-endian on x86 and arm64), ports hex in network order.
 */
export function parseProcNetTable(text: string, protocol: 'udp' | 'tcp'): BoundSocket[] {
  const sockets: BoundSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [local = '', , state = ''] = fields.slice(1, 4);
    const [addressHex = '', portHex = ''] = local.split(':');
    if (protocol === 'tcp' && Number.parseInt(state, 16) !== TCP_LISTEN) continue;
    const inode = Number(fields[9]);
    const port = Number.parseInt(portHex, 16);
    if (!Number.isInteger(inode) || !Number.isInteger(port)) continue;
    sockets.push({ protocol, address: decodeProcAddress(addressHex), port, inode });
  }
  return sockets;
}

/** "0100007F" → "127.0.0.1"; 32 hex digits → an IPv6 address in full form, "::" for all zeros. */
export function decodeProcAddress(hex: string): string {
  if (hex.length === 8) {
    const bytes = wordBytes(hex);
    return bytes.join('.');
  }
  if (/^0+$/.test(hex)) return '::';
  const bytes = [0, 8, 16, 24].flatMap((offset) => wordBytes(hex.slice(offset, offset + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

// Each 32-bit word is printed as a host-order integer: on little-endian machines its bytes come reversed.
function wordBytes(hex: string): number[] {
  const bytes = [0, 2, 4, 6].map((offset) => Number.parseInt(hex.slice(offset, offset + 2), 16));
  return bytes.reverse();
}

/** The inode of a /proc/<pid>/fd link target "socket:[12345]", or undefined for other files. */
export function socketInodeOf(linkTarget: string): number | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(linkTarget);
  return match ? Number(match[1]) : undefined;
}
