// Classifies a DHCP packet: a netboot client we answer (platform, transport, what runs), or every reason not. Pure.
import { BOOTSTATION_USER_CLASS } from '../boot/ipxe-identity.ts';
import { clientKind, platformOfArchitecture, VENDOR_CLASS_PREFIX, type BootTransport, type PlatformId } from '../boot/platform.ts';
import { clientHardwareAddress, ipv4FromOption, latin1Text, type DhcpPacket } from './codec.ts';
import { BootpOp, DhcpMessageType, dhcpMessageTypeName, DhcpOption } from './options.ts';

/** What every classification carries, so that each decision can be logged with the same fields. */
export interface ClientSummary {
  mac: string;
  xid: number;
  /** Option 53, e.g. "DHCPDISCOVER"; undefined for plain BOOTP. */
  messageType: string | undefined;
  /** Option 60 as sent; untrusted, log it length-limited under its own key. */
  vendorClass: string | undefined;
  /** Option 77 as sent (iPXE sends the bare string, e.g. "iPXE"); untrusted. */
  userClass: string | undefined;
  /** First entry of option 93 (RFC 4578 §2.1), or the Arch field of option 60 when 93 is absent. */
  architecture: number | undefined;
}

/** A client we may answer: a PXE or UEFI HTTP Boot client on firmware we have a binary for. */
export interface NetbootClient extends ClientSummary {
  netboot: true;
  messageType: string;
  architecture: number;
  /** The row of src/boot/platform.ts this client's option 93 names. */
  firmware: PlatformId;
  transport: BootTransport;
  /** Already running iPXE: option 175 present or user class "iPXE" (or "bootstation", our own build). */
  ipxe: boolean;
  /** Label for logs: firmware plus what runs on it, e.g. "bios-pxe", "efi-x64-ipxe", "efi-x64-http". */
  kind: string;
  /** Option 53 as a number (DHCPDISCOVER or DHCPREQUEST). */
  messageTypeCode: number;
  /** Option 54: the server the client addresses, if any. */
  serverIdentifier: string | undefined;
  /** Option 97 exactly as sent (type 0 + 16-byte GUID), echoed in replies as PXE 2.1 §2.2.4 expects. */
  machineIdentifier: Uint8Array | undefined;
}

/** A packet that is not a netboot client we answer, with every reason why. */
export interface IgnoredClient extends ClientSummary {
  netboot: false;
  reasons: readonly string[];
}

/** Result of classifyClient. */
export type ClientClassification = NetbootClient | IgnoredClient;

/** RFC 4578 §2.1 and the IANA "Processor Architecture Types" registry, for log messages. */
const architectureNames: ReadonlyMap<number, string> = new Map([
  [0, 'x86 BIOS'],
  [1, 'NEC/PC98'],
  [2, 'EFI Itanium'],
  [3, 'DEC Alpha'],
  [4, 'Arc x86'],
  [5, 'Intel Lean Client'],
  [6, 'x86 UEFI'],
  [7, 'x64 UEFI'],
  [8, 'EFI Xscale'],
  [9, 'EBC (x64 UEFI on some firmware)'],
  [10, 'ARM 32-bit UEFI'],
  [11, 'ARM 64-bit UEFI'],
  [15, 'x86 UEFI HTTP'],
  [16, 'x64 UEFI HTTP'],
  [17, 'EBC UEFI HTTP'],
  [18, 'ARM 32-bit UEFI HTTP'],
  [19, 'ARM 64-bit UEFI HTTP'],
  [20, 'x86 BIOS HTTP'],
  [25, 'RISC-V 32-bit UEFI'],
  [27, 'RISC-V 64-bit UEFI'],
]);

/** Human name of an option 93 architecture value, e.g. 7 → "x64 UEFI". */
export function architectureName(architecture: number): string {
  return architectureNames.get(architecture) ?? `architecture ${architecture}`;
}

/**
 * Classifies a request: a netboot client we may answer, or every reason it is not one (in the spirit of smee's
 * IsNetbootClient, which reports all failed checks rather than the first).
 */
export function classifyClient(packet: DhcpPacket): ClientClassification {
  const reasons: string[] = [];
  const options = packet.options;
  const messageTypeValue = options.get(DhcpOption.messageType);
  const messageTypeCode = messageTypeValue?.length === 1 ? messageTypeValue[0] : undefined;
  const vendorClassValue = options.get(DhcpOption.vendorClassIdentifier);
  const vendorClass = vendorClassValue === undefined ? undefined : latin1Text(vendorClassValue);
  const userClassValue = options.get(DhcpOption.userClass);
  const userClass = userClassValue === undefined ? undefined : latin1Text(userClassValue);
  const architecture = clientArchitecture(packet, vendorClass, reasons);
  const summary: ClientSummary = {
    mac: clientHardwareAddress(packet),
    xid: packet.xid,
    messageType: messageTypeCode === undefined ? undefined : dhcpMessageTypeName(messageTypeCode),
    vendorClass,
    userClass,
    architecture,
  };

  if (packet.op !== BootpOp.request) reasons.push(`op ${packet.op} is not a BOOTREQUEST`);
  if (messageTypeValue === undefined) reasons.push('no DHCP message type (option 53)');
  else if (messageTypeCode === undefined) reasons.push('malformed option 53');
  else if (messageTypeCode !== DhcpMessageType.discover && messageTypeCode !== DhcpMessageType.request) {
    reasons.push(`${dhcpMessageTypeName(messageTypeCode)} is neither DHCPDISCOVER nor DHCPREQUEST`);
  }

  // PXE 2.1 §2.2.1 and UEFI 2.x §24.7: netboot clients identify themselves with these two vendor-class prefixes.
  let vendorTransport: BootTransport | undefined;
  if (vendorClass === undefined) reasons.push('no vendor class (option 60)');
  else if (vendorClass.startsWith(VENDOR_CLASS_PREFIX.pxe)) vendorTransport = 'pxe';
  else if (vendorClass.startsWith(VENDOR_CLASS_PREFIX.http)) vendorTransport = 'http';
  else reasons.push(`vendor class (option 60) starts with neither ${VENDOR_CLASS_PREFIX.pxe} nor ${VENDOR_CLASS_PREFIX.http}`);

  const supported = architecture === undefined ? undefined : platformOfArchitecture(architecture);
  if (architecture !== undefined && supported === undefined) {
    reasons.push(`${architectureName(architecture)} (option 93 = ${architecture}) has no first-stage iPXE binary`);
  }
  if (supported !== undefined && vendorTransport !== undefined && supported.transport !== vendorTransport) {
    reasons.push(`vendor class ${VENDOR_CLASS_PREFIX[vendorTransport]} does not match ${architectureName(architecture ?? 0)}`);
  }

  const networkInterface = options.get(DhcpOption.clientNetworkInterface);
  // RFC 4578 §2.2: type 1 (UNDI) and a two-byte version.
  if (networkInterface !== undefined && (networkInterface.length !== 3 || networkInterface[0] !== 1)) {
    reasons.push('malformed option 94 (client network interface must be 3 bytes, type 1)');
  }
  const machineIdentifier = options.get(DhcpOption.clientMachineIdentifier);
  // RFC 4578 §2.3: type 0 followed by a 16-byte GUID; echoing anything else could upset the client.
  if (machineIdentifier !== undefined && (machineIdentifier.length !== 17 || machineIdentifier[0] !== 0)) {
    reasons.push('malformed option 97 (client machine identifier must be type 0 and a 16-byte GUID)');
  }

  if (reasons.length > 0 || supported === undefined || architecture === undefined || messageTypeCode === undefined) {
    return { ...summary, netboot: false, reasons };
  }
  const ipxe =
    options.has(DhcpOption.ipxeEncapsulated) || userClass === 'iPXE' || userClass === BOOTSTATION_USER_CLASS;
  const runs = supported.transport === 'http' ? 'http' : ipxe ? 'ipxe' : 'pxe';
  return {
    ...summary,
    netboot: true,
    messageType: dhcpMessageTypeName(messageTypeCode),
    messageTypeCode,
    architecture,
    firmware: supported.platform.id,
    transport: supported.transport,
    ipxe,
    kind: clientKind(supported.platform, runs),
    serverIdentifier: ipv4FromOption(options.get(DhcpOption.serverIdentifier)),
    machineIdentifier,
  };
}

/** Option 93's first entry; without it, the "Arch:NNNNN" field that PXE 2.1 §2.2.1 puts in option 60. */
function clientArchitecture(packet: DhcpPacket, vendorClass: string | undefined, reasons: string[]): number | undefined {
  const value = packet.options.get(DhcpOption.clientSystemArchitecture);
  if (value !== undefined) {
    // RFC 4578 §2.1: a list of 16-bit types; the first is the one the client runs now.
    if (value.length < 2 || value.length % 2 !== 0) {
      reasons.push('malformed option 93 (client system architecture must be a list of 16-bit values)');
      return undefined;
    }
    return ((value[0] ?? 0) << 8) | (value[1] ?? 0);
  }
  const fromVendorClass = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vendorClass ?? '');
  if (fromVendorClass?.[1] !== undefined) return Number(fromVendorClass[1]);
  reasons.push('no client architecture (option 93, nor Arch in option 60)');
  return undefined;
}
