// The ProxyDHCP decision: whether to answer a netboot client, with which first-stage file, to which address. Pure.
import { BOOTSTATION_USER_CLASS } from '../boot/ipxe-identity.ts';
import { firstStageFile, VENDOR_CLASS_PREFIX, type PlatformId } from '../boot/platform.ts';
import { nonUnicastKind } from '../net/ipv4-address.ts';
import type { ClientClassification, NetbootClient } from './classify.ts';
import { BOOTP_BROADCAST_FLAG, encodeSubOptions, ipv4Bytes, latin1Encode, type DhcpPacket } from './codec.ts';
import { BootpOp, DhcpMessageType, DhcpOption, PxeDiscoveryControl, PxeSubOption } from './options.ts';

/** What the ProxyDHCP answers depend on; the CLI builds it from the config, and a reload takes effect on the next packet. */
export interface ProxyDhcpPolicy {
  /** Our IPv4 address: siaddr, option 54, and the host of the URLs. */
  serverAddress: string;
  httpPort: number;
  /** Boot script URL for iPXE clients, e.g. http://10.77.0.2:8080/boot.ipxe. */
  bootScriptUrl: string;
  /** First-stage files available over TFTP and HTTP (FIRST_STAGE_FILES of src/boot/platform.ts that are present). */
  binaries: ReadonlySet<string>;
  /** bootstation's own iPXE build is present (its clients send user class "bootstation", option 77). */
  customBuild: boolean;
  /** server.dhcp_relays: the only giaddr values answered; undefined answers any relay with a unicast address. */
  relays?: ReadonlySet<string>;
}

/** Which socket a request came in on: 67 (broadcast DHCP) or 4011 (PXE boot server requests, PXE 2.1 §2.2.6). */
export type ProxyDhcpPort = 'dhcp' | 'pxe';

/** A UDP endpoint. */
export interface UdpEndpoint {
  address: string;
  port: number;
}

/** One request to decide on: the decoded packet, its classification, and where it came from. */
export interface ProxyDhcpRequest {
  packet: DhcpPacket;
  client: ClientClassification;
  receivedOn: ProxyDhcpPort;
  source: UdpEndpoint;
  /** Where port-67 replies go; 68 (RFC 2131 §4.1) except in tests that cannot bind a privileged port. */
  clientPort?: number;
}

/** A first-stage binary that the policy lacks for this firmware: the service warns once per firmware and file. */
export interface MissingBinary {
  firmware: PlatformId;
  file: string;
}

/** Outcome of decideProxyDhcpAnswer: a reply and where to send it, or every reason not to answer. */
export type ProxyDhcpDecision =
  | { action: 'reply'; reply: DhcpPacket; destination: UdpEndpoint; bootFile: string; why: string }
  | { action: 'ignore'; reasons: readonly string[]; missingBinary?: MissingBinary };

const BROADCAST_ADDRESS = '255.255.255.255';
const DHCP_CLIENT_PORT = 68;
const DHCP_SERVER_PORT = 67;
const ZERO_ADDRESS = '0.0.0.0';
/** The file field is 128 bytes and NUL-terminated (RFC 2131 §2). */
const MAXIMUM_BOOT_FILE_LENGTH = 127;

/** Decides the ProxyDHCP answer for one request: never an address, only where to boot from (PXE 2.1 §2.2.3). */
export function decideProxyDhcpAnswer(request: ProxyDhcpRequest, policy: ProxyDhcpPolicy): ProxyDhcpDecision {
  const { client, packet } = request;
  if (request.source.address === policy.serverAddress) return ignore('our own packet');
  if (!client.netboot) return { action: 'ignore', reasons: client.reasons };

  const replyType = replyMessageType(request, client, policy);
  if (typeof replyType === 'string') return ignore(replyType);

  const choice = chooseBootFile(client, policy);
  if ('missing' in choice) {
    return {
      action: 'ignore',
      reasons: [`${choice.missing.file} for ${client.kind} is not among the available first-stage binaries`],
      missingBinary: choice.missing,
    };
  }
  if (choice.file.length > MAXIMUM_BOOT_FILE_LENGTH || /[^\x20-\x7e]/.test(choice.file)) {
    return ignore(`boot file "${choice.file.slice(0, 64)}" does not fit the 127-byte ASCII file field`);
  }

  const destination = replyDestination(request, policy);
  if (typeof destination === 'string') return ignore(destination);

  const options = new Map<number, Uint8Array>([
    [DhcpOption.messageType, Uint8Array.of(replyType)],
    [DhcpOption.serverIdentifier, ipv4Bytes(policy.serverAddress)],
    // PXE 2.1 §2.2.3: a ProxyDHCP reply names itself with vendor class PXEClient; UEFI HTTP Boot expects HTTPClient back.
    [DhcpOption.vendorClassIdentifier, latin1Encode(VENDOR_CLASS_PREFIX[client.transport])],
  ]);
  if (client.machineIdentifier !== undefined) options.set(DhcpOption.clientMachineIdentifier, client.machineIdentifier);
  if (client.firmware === 'bios' && client.transport === 'pxe' && request.receivedOn === 'dhcp') {
    // BIOS PXE ROMs: discovery control 8 = "boot file present, download it, skip boot server discovery" (PXE 2.1 §2.2.5).
    // UEFI firmware gets no option 43: several EDK2-based firmwares drop ProxyDHCP offers that bypass discovery,
    // while all of them treat an offer without option 43 as "ask this server on port 4011" (the BINL flow).
    const pxe = new Map<number, Uint8Array>([[PxeSubOption.discoveryControl, Uint8Array.of(PxeDiscoveryControl.useBootFileDirectly)]]);
    options.set(DhcpOption.vendorSpecific, encodeSubOptions(pxe));
  }

  const reply: DhcpPacket = {
    op: BootpOp.reply,
    htype: packet.htype,
    hlen: packet.hlen,
    hops: 0,
    xid: packet.xid,
    secs: 0,
    flags: packet.flags & BOOTP_BROADCAST_FLAG,
    ciaddr: packet.ciaddr,
    // ProxyDHCP never hands out an address: that stays the router's job.
    yiaddr: ZERO_ADDRESS,
    // iPXE drops ProxyDHCP replies without siaddr even when the file is a URL (test/fixtures/dhcp/bios-ipxe-rom-vs-dnsmasq-proxy-no-siaddr.pcap).
    siaddr: policy.serverAddress,
    giaddr: packet.giaddr,
    chaddr: packet.chaddr.slice(),
    sname: '',
    file: choice.file,
    options,
  };
  return { action: 'reply', reply, destination, bootFile: choice.file, why: choice.why };
}

/** DHCPOFFER or DHCPACK for requests we answer, or the reason a request is not ours to answer. */
function replyMessageType(request: ProxyDhcpRequest, client: NetbootClient, policy: ProxyDhcpPolicy): number | string {
  const us = policy.serverAddress;
  if (request.receivedOn === 'pxe') {
    if (client.messageTypeCode !== DhcpMessageType.request) return `${client.messageType} on port 4011, where only DHCPREQUEST is answered`;
    if (client.serverIdentifier !== undefined && client.serverIdentifier !== us) {
      return `DHCPREQUEST on port 4011 names server ${client.serverIdentifier}, not us`;
    }
    return DhcpMessageType.ack;
  }
  if (client.messageTypeCode === DhcpMessageType.discover) return DhcpMessageType.offer;
  // On port 67 a DHCPREQUEST is the client taking the router's lease; only one that names us is ours to answer.
  if (client.serverIdentifier === undefined) return 'DHCPREQUEST without server identifier is for the DHCP server (renewal or reboot)';
  if (client.serverIdentifier !== us) return `DHCPREQUEST for the DHCP server ${client.serverIdentifier}`;
  return DhcpMessageType.ack;
}

/** What this client boots next; loops are impossible because only clients not yet running our iPXE get a binary. */
function chooseBootFile(client: NetbootClient, policy: ProxyDhcpPolicy): { file: string; why: string } | { missing: MissingBinary } {
  const binary = firstStageFile(client.firmware);
  const present = policy.binaries.has(binary);
  if (client.transport === 'http') {
    if (!present) return { missing: { firmware: client.firmware, file: binary } };
    const port = policy.httpPort === 80 ? '' : `:${policy.httpPort}`;
    return { file: `http://${policy.serverAddress}${port}/ipxe/${binary}`, why: 'UEFI HTTP Boot loads iPXE over HTTP' };
  }
  if (!client.ipxe) {
    if (!present) return { missing: { firmware: client.firmware, file: binary } };
    return { file: binary, why: 'PXE firmware chainloads iPXE over TFTP' };
  }
  if (client.userClass === BOOTSTATION_USER_CLASS) return { file: policy.bootScriptUrl, why: "bootstation's iPXE gets the boot script" };
  if (policy.customBuild && present) {
    return { file: binary, why: "another iPXE chainloads bootstation's build, so the keymap and embedded script apply" };
  }
  if (policy.customBuild) return { file: policy.bootScriptUrl, why: `iPXE gets the boot script (bootstation's build has no ${binary})` };
  return { file: policy.bootScriptUrl, why: 'iPXE gets the boot script' };
}

/**
 * RFC 2131 §4.1: via a relay to the relay's port 67; to a configured client at ciaddr; otherwise broadcast, since
 * the client has no address yet and ARP-less unicast to chaddr is not possible from a UDP socket. Port 4011
 * answers go back to the sender's address and port (EDK2 sends from 4011, iPXE from 68).
 * giaddr and ciaddr are whatever the sender wrote, so a destination taken from them must be one a reply may go to
 * (issue 14: replies could be steered at any address); otherwise this returns why the packet is not answered.
 */
function replyDestination(request: ProxyDhcpRequest, policy: ProxyDhcpPolicy): UdpEndpoint | string {
  if (request.receivedOn === 'pxe') return request.source;
  const clientPort = request.clientPort ?? DHCP_CLIENT_PORT;
  const { giaddr, ciaddr } = request.packet;
  if (giaddr !== ZERO_ADDRESS) {
    // A relay may forward from an address other than its giaddr (RFC 2131 §4.1: giaddr names the client's subnet,
    // the packet leaves from whichever interface routes to us), so giaddr cannot be checked against the sender.
    if (policy.relays !== undefined && !policy.relays.has(giaddr)) return `giaddr ${giaddr} is not among server.dhcp_relays`;
    if (giaddr === policy.serverAddress) return `giaddr ${giaddr} is our own address`;
    const kind = nonUnicastKind(giaddr);
    if (kind !== undefined) return `giaddr ${giaddr} is ${kind}, which no relay can have`;
    return { address: giaddr, port: DHCP_SERVER_PORT };
  }
  if (ciaddr !== ZERO_ADDRESS) {
    // RFC 2131 §4.1: a client fills in ciaddr only while it holds that address, and then it sends from it.
    if (ciaddr !== request.source.address) return `ciaddr ${ciaddr} is not the address the packet came from (${request.source.address})`;
    return { address: ciaddr, port: clientPort };
  }
  return { address: BROADCAST_ADDRESS, port: clientPort };
}

function ignore(reason: string): ProxyDhcpDecision {
  return { action: 'ignore', reasons: [reason] };
}
