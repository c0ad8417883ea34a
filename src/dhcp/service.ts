// The ProxyDHCP service: listens on ports 67 and 4011, classifies, answers, and reports every decision as an event.
import type { Socket, RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import { PLATFORMS } from '../boot/platform.ts';
import { createLogSummary, type SummaryTimer } from '../events/log-summary.ts';
import type { BootEventSink } from '../events/model.ts';
import { openUdpSocket } from '../net/udp.ts';
import { classifyClient, type ClientClassification } from './classify.ts';
import { decodeDhcpPacket, DhcpDecodeError, encodeDhcpPacket, ipv4FromOption, type DhcpPacket } from './codec.ts';
import { describeDhcpPacket } from './describe.ts';
import { dhcpMessageTypeName, DhcpOption } from './options.ts';
import { decideProxyDhcpAnswer, type ProxyDhcpPolicy, type ProxyDhcpPort } from './proxy-answer.ts';

/** What the ProxyDHCP service needs: our address, the ports, the current policy and a logger. */
export interface ProxyDhcpServiceOptions {
  /** Our IPv4 address on the boot LAN; replies leave from it, so they leave through its interface. */
  address: string;
  /** Where broadcasts are received; 0.0.0.0, because a socket bound to one address never sees 255.255.255.255. */
  listenAddress?: string;
  /** 67 in production, 0 in tests. */
  dhcpPort: number;
  /** 4011 in production, 0 in tests. */
  pxePort: number;
  /** Called for every packet, so that a config reload applies to the next one. */
  policy: () => ProxyDhcpPolicy;
  log: Logger;
  /** Where port-67 replies go: 68 (RFC 2131 §4.1), or a free port in tests that cannot bind 68. */
  dhcpClientPort?: number;
  /** Where every decision is reported as a boot event (the dashboard, metrics); optional. */
  events?: BootEventSink;
  /** Timer of the once-a-minute info summary of answers; tests pass a fake. */
  summaryTimer?: SummaryTimer;
}

/** A running ProxyDHCP service and the ports it is bound to. */
export interface ProxyDhcpService {
  dhcpPort: number;
  pxePort: number;
  close(): Promise<void>;
}

const SERVICE = 'ProxyDHCP';
/** Untrusted client strings are cut to this many characters in logs. */
const LOGGED_STRING_LIMIT = 64;

/**
 * Starts ProxyDHCP on UDP 67 and 4011. Broadcasts arrive on a socket bound to listenAddress (0.0.0.0); replies
 * leave from a socket bound to <address>:67, because Linux sends a limited broadcast out of the interface that owns
 * the bound address, while from 0.0.0.0 it would take the default route's interface (docker0 and friends on a NAS).
 * Both share port 67 through SO_REUSEADDR; unicast to <address>:67 lands on the more specific socket, so both listen.
 */
export async function createProxyDhcpService(options: ProxyDhcpServiceOptions): Promise<ProxyDhcpService> {
  const { address, log } = options;
  const listenAddress = options.listenAddress ?? '0.0.0.0';
  const sockets: Socket[] = [];
  const warnedMissing = new Set<string>();
  // One debug line per answer; anyone can make us answer thousands a second (issue 14: 10,000 DISCOVERs made
  // 2.4 MB of info log), so info gets one line a minute saying how many.
  const answers = createLogSummary({
    timer: options.summaryTimer,
    report: ({ counts, clients, clientsCapped }) => {
      const packets = Object.values(counts).reduce((sum, count) => sum + count, 0);
      const atLeast = clientsCapped ? 'at least ' : '';
      log.info({ clients, packets, counts }, `ProxyDHCP answered ${atLeast}${clients} clients (${packets} packets) in the last minute`);
    },
  });
  try {
    const receiver = await openUdpSocket({ service: SERVICE, address: listenAddress, port: options.dhcpPort, reuseAddr: true, broadcast: true });
    sockets.push(receiver);
    const dhcpPort = receiver.address().port;
    const sender =
      listenAddress === address
        ? receiver
        : await openUdpSocket({ service: SERVICE, address, port: dhcpPort, reuseAddr: true, broadcast: true });
    if (sender !== receiver) sockets.push(sender);
    // PXE 2.1 §2.2.6: boot server requests are unicast to 4011, and iPXE only accepts answers sent from 4011.
    const pxe = await openUdpSocket({ service: `${SERVICE} (PXE boot server)`, address, port: options.pxePort });
    sockets.push(pxe);

    const handle = (receivedOn: ProxyDhcpPort, replyFrom: Socket) => (bytes: Buffer, remote: RemoteInfo) => {
      try {
        handlePacket(bytes, remote, receivedOn, replyFrom);
      } catch (error) {
        // A bad packet must never stop the server loop.
        log.error({ err: error, from: `${remote.address}:${remote.port}` }, 'ProxyDHCP failed to handle a packet');
      }
    };
    receiver.on('message', handle('dhcp', sender));
    if (sender !== receiver) sender.on('message', handle('dhcp', sender));
    pxe.on('message', handle('pxe', pxe));
    for (const socket of sockets) socket.on('error', (error) => log.error({ err: error }, 'ProxyDHCP socket error'));

    log.info({ address, listenAddress, dhcpPort, pxePort: pxe.address().port }, 'ProxyDHCP listening');
    return {
      dhcpPort,
      pxePort: pxe.address().port,
      close: () => {
        answers.close();
        return closeAll(sockets);
      },
    };
  } catch (error) {
    answers.close();
    await closeAll(sockets);
    throw error;
  }

  function handlePacket(bytes: Uint8Array, remote: RemoteInfo, receivedOn: ProxyDhcpPort, replyFrom: Socket): void {
    const from = `${remote.address}:${remote.port}`;
    const port = receivedOn === 'dhcp' ? 67 : 4011;
    let packet;
    try {
      packet = decodeDhcpPacket(bytes);
    } catch (error) {
      if (!(error instanceof DhcpDecodeError)) throw error;
      log.debug({ from, port, code: error.code, offset: error.offset, bytes: bytes.length }, 'ProxyDHCP ignored an undecodable packet');
      return;
    }
    if (log.isLevelEnabled('trace')) log.trace({ from, port, request: describeDhcpPacket(packet) }, 'ProxyDHCP received');

    const policy = options.policy();
    const client = classifyClient(packet);
    const decision = decideProxyDhcpAnswer(
      { packet, client, receivedOn, source: { address: remote.address, port: remote.port }, clientPort: options.dhcpClientPort },
      policy,
    );
    const fields = { ...clientFields(client), port, from };
    const ip = clientAddress(packet, remote.address);

    if (decision.action === 'ignore') {
      const missing = decision.missingBinary;
      const key = missing === undefined ? '' : `${missing.firmware}/${missing.file}`;
      if (missing !== undefined && !warnedMissing.has(key)) {
        // One warning per firmware and file, not one per packet: a client retries every few seconds.
        warnedMissing.add(key);
        const platform = PLATFORMS.find((row) => row.id === missing.firmware)?.displayName ?? missing.firmware;
        log.warn({ ...fields, missingFile: missing.file }, `ProxyDHCP cannot boot ${platform} clients: ${missing.file} is missing from the iPXE binaries served; \`bootstation doctor\` says how to add it`);
      } else {
        log.debug({ ...fields, reasons: decision.reasons }, 'ProxyDHCP ignored');
      }
      const vendorClass = limit(client.vendorClass);
      const netbootVendor = vendorClass !== undefined && /^(PXEClient|HTTPClient)/.test(vendorClass);
      options.events?.emit({ kind: 'dhcp-ignored', mac: client.mac, reasons: decision.reasons, netbootVendor, ip, vendorClass });
      return;
    }

    const { reply, destination } = decision;
    const replyType = dhcpMessageTypeName(reply.options.get(DhcpOption.messageType)?.[0] ?? 0);
    answers.note(replyType, client.mac);
    log.debug(
      { ...fields, offered: { type: replyType, file: decision.bootFile, siaddr: reply.siaddr }, to: `${destination.address}:${destination.port}`, reason: decision.why },
      `ProxyDHCP ${replyType}`,
    );
    if (log.isLevelEnabled('trace')) log.trace({ reply: describeDhcpPacket(reply) }, 'ProxyDHCP reply');
    options.events?.emit({ kind: 'dhcp-offer', mac: client.mac, firmware: client.netboot ? client.kind : 'unknown', file: decision.bootFile, port, ip, vendorClass: limit(client.vendorClass) });
    replyFrom.send(encodeDhcpPacket(reply), destination.port, destination.address, (error) => {
      if (error) log.warn({ ...fields, err: error, to: `${destination.address}:${destination.port}` }, 'ProxyDHCP could not send its reply');
    });
  }
}

/** The per-decision log fields; untrusted strings are length-limited and kept under their own keys. */
function clientFields(client: ClientClassification): Record<string, unknown> {
  return {
    mac: client.mac,
    xid: `0x${client.xid.toString(16).padStart(8, '0')}`,
    messageType: client.messageType,
    firmware: client.netboot ? client.kind : undefined,
    arch: client.architecture,
    vendorClass: limit(client.vendorClass),
    userClass: limit(client.userClass),
  };
}

/**
 * The client's IPv4 address when the packet reveals it: ciaddr, else the sender's address (clients with an
 * address ask port 4011 from it), else option 50 of the DHCPREQUEST it sends the router. TFTP and HTTP only
 * see addresses; this is how their events find the client's MAC.
 */
function clientAddress(packet: DhcpPacket, sender: string): string | undefined {
  const relayed = packet.giaddr !== '0.0.0.0';
  // Anyone can write any ciaddr: it names the client only when the client sent from it, or a relay forwarded it.
  if (packet.ciaddr !== '0.0.0.0' && (packet.ciaddr === sender || relayed)) return packet.ciaddr;
  // A relay (giaddr) sends from its own address, not the client's.
  if (sender !== '0.0.0.0' && !relayed) return sender;
  return ipv4FromOption(packet.options.get(DhcpOption.requestedAddress));
}

function limit(text: string | undefined): string | undefined {
  return text === undefined || text.length <= LOGGED_STRING_LIMIT ? text : `${text.slice(0, LOGGED_STRING_LIMIT)}…`;
}

function closeAll(sockets: readonly Socket[]): Promise<void> {
  return Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())))).then(() => undefined);
}
