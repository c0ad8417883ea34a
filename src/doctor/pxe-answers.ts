// The PXE DISCOVER the doctor sends as a BIOS PXE ROM would, and what an answer to it says. Pure.
import { BOOTP_BROADCAST_FLAG, decodeSubOptions, encodeSubOptions, ipv4FromOption, latin1Encode, latin1Text, type DhcpPacket } from '../dhcp/codec.ts';
import { BootpOp, DhcpMessageType, DhcpOption } from '../dhcp/options.ts';

/** Who answered a PXE DISCOVER and what it would make a PC boot. */
export interface PxeAnswer {
  /** The answering server: option 54, else the packet's source address. */
  server: string;
  /** yiaddr 0.0.0.0 and vendor class PXEClient: a ProxyDHCP; otherwise a DHCP server offering an address. */
  kind: 'proxy-dhcp' | 'dhcp';
  /** The address a DHCP server offered. */
  offered?: string;
  /** The boot file: the file field, else option 67; undefined when the answer carries none. */
  bootFile?: string;
  /** siaddr, else option 66 (TFTP server name). */
  nextServer?: string;
  /** Option 43 present: a PXE boot menu or discovery control. */
  pxeOptions: boolean;
  /** The PXE boot menu (option 43, sub-option 9): its items, whose boot files come from a request to port 4011. */
  menu: ReadonlyArray<{ type: number; description: string }>;
}

// PXE 2.1 §2.2.5, option 43 sub-options: 9 is the boot menu, 71 the boot item a client asks a boot server for.
const PXE_BOOT_MENU = 9;
const PXE_BOOT_ITEM = 71;

/**
 * A DHCPDISCOVER as a BIOS PXE ROM sends it (PXE 2.1 §2.2.1): vendor class PXEClient, arch 0, UNDI 2.1, a GUID.
 * With `bootItem`, the DHCPREQUEST for that menu item a ROM then sends to the boot server's port 4011 (§2.2.6),
 * from `clientAddress`.
 */
export function pxeDiscoverPacket(mac: string, xid: number, bootItem?: { type: number; clientAddress: string }): DhcpPacket {
  const chaddr = new Uint8Array(16);
  chaddr.set(mac.split(':').map((byte) => Number.parseInt(byte, 16)));
  const options = new Map<number, Uint8Array>([
    [DhcpOption.messageType, Uint8Array.of(DhcpMessageType.discover)],
    // What a PXE ROM asks for: mask, router, vendor options, vendor class, TFTP server, boot file, PXE 128-135.
    [DhcpOption.parameterRequestList, Uint8Array.of(1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135)],
    [DhcpOption.clientSystemArchitecture, Uint8Array.of(0, 0)],
    [DhcpOption.clientNetworkInterface, Uint8Array.of(1, 2, 1)],
    [DhcpOption.clientMachineIdentifier, Uint8Array.of(0, ...new Array<number>(16).fill(0xd0))],
    [DhcpOption.vendorClassIdentifier, latin1Encode('PXEClient:Arch:00000:UNDI:002001')],
  ]);
  if (bootItem) {
    options.set(DhcpOption.messageType, Uint8Array.of(DhcpMessageType.request));
    // Item type, then layer 0: the boot file itself.
    options.set(DhcpOption.vendorSpecific, encodeSubOptions(new Map([[PXE_BOOT_ITEM, Uint8Array.of(bootItem.type >> 8, bootItem.type & 0xff, 0, 0)]])));
  }
  return {
    op: BootpOp.request, htype: 1, hlen: 6, hops: 0, xid, secs: 0,
    // We have no address yet, so answers must come as broadcasts (RFC 2131 §4.1).
    flags: BOOTP_BROADCAST_FLAG,
    ciaddr: bootItem?.clientAddress ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr, sname: '', file: '', options,
  };
}

/** Reads an answer to our DISCOVER; undefined when it is not one (another xid, not a BOOTREPLY). */
export function readPxeAnswer(packet: DhcpPacket, source: string, xid: number): PxeAnswer | undefined {
  if (packet.op !== BootpOp.reply || packet.xid !== xid) return undefined;
  const text = (code: number): string | undefined => {
    const bytes = packet.options.get(code);
    const value = bytes === undefined ? '' : latin1Text(bytes).replace(/\0+$/, '');
    return value === '' ? undefined : value;
  };
  const proxy = packet.yiaddr === '0.0.0.0' && text(DhcpOption.vendorClassIdentifier)?.startsWith('PXEClient') === true;
  return {
    server: ipv4FromOption(packet.options.get(DhcpOption.serverIdentifier)) ?? source,
    kind: proxy ? 'proxy-dhcp' : 'dhcp',
    offered: packet.yiaddr === '0.0.0.0' ? undefined : packet.yiaddr,
    bootFile: packet.file !== '' ? packet.file : text(DhcpOption.bootFileName),
    nextServer: packet.siaddr !== '0.0.0.0' ? packet.siaddr : text(DhcpOption.tftpServerName),
    pxeOptions: packet.options.has(DhcpOption.vendorSpecific),
    menu: bootMenu(packet.options.get(DhcpOption.vendorSpecific)),
  };
}

/** The items of a PXE boot menu: type (2 bytes), description length (1), description; [] when absent or malformed. */
export function bootMenu(option43: Uint8Array | undefined): Array<{ type: number; description: string }> {
  if (option43 === undefined) return [];
  let menu: Uint8Array | undefined;
  try {
    menu = decodeSubOptions(option43).get(PXE_BOOT_MENU);
  } catch {
    return [];
  }
  const items: Array<{ type: number; description: string }> = [];
  for (let at = 0; menu !== undefined && at + 3 <= menu.length; ) {
    const length = menu[at + 2]!;
    if (at + 3 + length > menu.length) break;
    items.push({ type: (menu[at]! << 8) | menu[at + 1]!, description: latin1Text(menu.subarray(at + 3, at + 3 + length)) });
    at += 3 + length;
  }
  return items;
}
