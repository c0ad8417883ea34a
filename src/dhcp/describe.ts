// A DHCP packet as plain JSON, for golden files and trace logs. Pure.
import { clientHardwareAddress, decodeSubOptions, DhcpDecodeError, latin1Text, type DhcpPacket } from './codec.ts';
import { dhcpMessageTypeName, dhcpOptionName, DhcpOption, ipxeSubOptionName } from './options.ts';

/** A DHCP packet as plain JSON for golden files and trace logs: named fields, named options, readable values. */
export interface DhcpPacketDescription {
  op: string;
  xid: string;
  secs: number;
  flags: string;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: string;
  sname: string;
  file: string;
  options: Array<{ code: number; name: string; value: unknown }>;
}

/** Describes a packet for humans; deterministic, so that golden files diff cleanly. */
export function describeDhcpPacket(packet: DhcpPacket): DhcpPacketDescription {
  return {
    op: packet.op === 1 ? 'BOOTREQUEST' : packet.op === 2 ? 'BOOTREPLY' : `op-${packet.op}`,
    xid: hex32(packet.xid),
    secs: packet.secs,
    flags: `0x${packet.flags.toString(16).padStart(4, '0')}`,
    ciaddr: packet.ciaddr,
    yiaddr: packet.yiaddr,
    siaddr: packet.siaddr,
    giaddr: packet.giaddr,
    chaddr: clientHardwareAddress(packet),
    sname: packet.sname,
    file: packet.file,
    options: [...packet.options].map(([code, value]) => ({ code, name: dhcpOptionName(code), value: describeOptionValue(code, value) })),
  };
}

function describeOptionValue(code: number, value: Uint8Array): unknown {
  switch (code) {
    case DhcpOption.messageType:
      return value.length === 1 ? dhcpMessageTypeName(value[0] ?? 0) : hex(value);
    case DhcpOption.serverIdentifier:
    case DhcpOption.requestedAddress:
    case DhcpOption.subnetMask:
      return value.length === 4 ? value.join('.') : hex(value);
    case DhcpOption.vendorClassIdentifier:
    case DhcpOption.userClass:
    case DhcpOption.hostName:
    case DhcpOption.tftpServerName:
    case DhcpOption.bootFileName:
      return printable(value) ? latin1Text(value) : hex(value);
    case DhcpOption.parameterRequestList:
      return value.join(',');
    case DhcpOption.maxMessageSize:
      return value.length === 2 ? ((value[0] ?? 0) << 8) | (value[1] ?? 0) : hex(value);
    case DhcpOption.clientSystemArchitecture:
      return value.length % 2 === 0 ? uint16s(value) : hex(value);
    case DhcpOption.clientNetworkInterface:
      return value.length === 3 ? `type ${value[0]} version ${value[1]}.${value[2]}` : hex(value);
    case DhcpOption.vendorSpecific:
      return describeSubOptions(value, (sub) => `suboption-${sub}`);
    case DhcpOption.ipxeEncapsulated:
      return describeSubOptions(value, ipxeSubOptionName);
    default:
      return hex(value);
  }
}

function describeSubOptions(value: Uint8Array, name: (code: number) => string): unknown {
  try {
    return [...decodeSubOptions(value)].map(([code, sub]) => ({ code, name: name(code), value: hex(sub) }));
  } catch (error) {
    if (error instanceof DhcpDecodeError) return { malformed: error.code, bytes: hex(value) };
    throw error;
  }
}

function uint16s(value: Uint8Array): number[] {
  const numbers: number[] = [];
  for (let at = 0; at + 1 < value.length; at += 2) numbers.push(((value[at] ?? 0) << 8) | (value[at + 1] ?? 0));
  return numbers;
}

function printable(value: Uint8Array): boolean {
  return value.every((byte) => byte >= 0x20 && byte < 0x7f);
}

function hex(value: Uint8Array): string {
  return Array.from(value, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
