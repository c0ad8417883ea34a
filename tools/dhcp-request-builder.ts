// Builds PXE client requests for the DHCP tests and the bench's load generator: a DHCPDISCOVER with the options real
// firmware sends. Development code in tools/, so that neither test/ nor bench/ imports the other; never shipped.
import { latin1Encode, ipv4Bytes, type DhcpPacket } from '../src/dhcp/codec.ts';

/** What a simulated client looks like; every field has the value of a BIOS PXE ROM unless the caller says otherwise. */
export interface TestClient {
  messageType?: number;
  vendorClass?: string | null;
  architecture?: number | null;
  userClass?: string;
  ipxeEncapsulated?: boolean;
  machineIdentifier?: Uint8Array | null;
  /** Option 94 as sent (type 1, major, minor); default 1.2.1 as BIOS PXE ROMs send, EDK2 sends 1.3.0. */
  networkInterface?: Uint8Array;
  serverIdentifier?: string;
  ciaddr?: string;
  giaddr?: string;
  flags?: number;
  mac?: string;
  xid?: number;
}

/** A client request packet as a PXE ROM would send it (message type 1 = DHCPDISCOVER by default). */
export function pxeClientRequest(client: TestClient = {}): DhcpPacket {
  const architecture = client.architecture === undefined ? 0 : client.architecture;
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(client.messageType ?? 1)]]);
  if (client.serverIdentifier !== undefined) options.set(54, ipv4Bytes(client.serverIdentifier));
  if (architecture !== null) options.set(93, Uint8Array.of(architecture >> 8, architecture & 0xff));
  options.set(94, client.networkInterface ?? Uint8Array.of(1, 2, 1));
  const vendorClass =
    client.vendorClass === undefined ? `PXEClient:Arch:${String(architecture ?? 0).padStart(5, '0')}:UNDI:002001` : client.vendorClass;
  if (vendorClass !== null) options.set(60, latin1Encode(vendorClass));
  if (client.userClass !== undefined) options.set(77, latin1Encode(client.userClass));
  if (client.ipxeEncapsulated) options.set(175, Uint8Array.of(177, 5, 1, 0x1a, 0xf4, 0x10, 0x00, 235, 3, 1, 0, 0, 19, 1, 1));
  const machineIdentifier = client.machineIdentifier === undefined ? Uint8Array.of(0, ...new Array<number>(16).fill(0x11)) : client.machineIdentifier;
  if (machineIdentifier !== null) options.set(97, machineIdentifier);
  const chaddr = new Uint8Array(16);
  chaddr.set((client.mac ?? '52:54:00:aa:bb:cc').split(':').map((byte) => Number.parseInt(byte, 16)));
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: client.xid ?? 0x12345678,
    secs: 4,
    flags: client.flags ?? 0,
    ciaddr: client.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: client.giaddr ?? '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
}
