// ProxyDHCP load generator, run inside a client namespace by dhcp.ts: simulated BIOS PXE clients broadcast a
// DISCOVER from port 68, and on the ProxyDHCP answer send the DHCPREQUEST for the boot item to the server's port
// 4011, as a PXE ROM does (PXE 2.1 §2.2). Prints one JSON line with counts and latencies.
//   rate <json>      DISCOVERs at a fixed rate (open loop): latency at a given load, lost answers
//   saturate <json>  a fixed number of clients in flight (closed loop): answers per second
import type { Socket } from 'node:dgram';
import { BOOTP_BROADCAST_FLAG, decodeDhcpPacket, encodeDhcpPacket, encodeSubOptions } from '../src/dhcp/codec.ts';
import { readPxeAnswer } from '../src/doctor/pxe-answers.ts';
import { openUdpSocket } from '../src/net/udp.ts';
import { pxeClientRequest } from '../tools/dhcp-request-builder.ts';

/** What the orchestrator passes. */
interface LoadArguments {
  clientAddress: string;
  seconds: number;
  /** DISCOVERs per second (rate mode). */
  rate?: number;
  /** Clients in flight (saturate mode). */
  inFlight?: number;
}

// An answer later than this counts as lost (PXE ROMs wait 4 s for the first, but that is a failure at 500/s).
const LOST_AFTER_MS = 1000;
// PXE 2.1 §2.2.5: option 43 sub-option 71 names the boot item (type, layer) asked of a boot server.
const PXE_BOOT_ITEM = 71;

interface Client {
  mac: string;
  xid: number;
  discoverAt: number;
  requestAt?: number;
  offered?: number;
  acked?: number;
}

const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}') as LoadArguments;
const clients = new Map<number, Client>();
const offerLatencies: number[] = [];
const ackLatencies: number[] = [];
let nextIndex = 0;
// Answers (OFFERs and ACKs) that arrived while sending: the saturation figure.
let answersWhileSending = 0;

// As the doctor's probe: replies to a broadcast arrive on 0.0.0.0:68, unicast ones on the bound address.
const receiver = await openUdpSocket({ service: 'bench client', address: '0.0.0.0', port: 68, reuseAddr: true, broadcast: true });
const sender = await openUdpSocket({ service: 'bench client', address: options.clientAddress, port: 68, reuseAddr: true, broadcast: true });
const send = (socket: Socket, bytes: Uint8Array, port: number, address: string): void => socket.send(bytes, port, address);

function discover(): void {
  const index = nextIndex++;
  const mac = `02:78:${[index >> 24, index >> 16, index >> 8, index].map((byte) => (byte & 0xff).toString(16).padStart(2, '0')).join(':')}`;
  const client: Client = { mac, xid: (0x78000000 + index) >>> 0, discoverAt: performance.now() };
  clients.set(client.xid, client);
  send(sender, encodeDhcpPacket(pxeClientRequest({ mac, xid: client.xid, flags: BOOTP_BROADCAST_FLAG })), 67, '255.255.255.255');
}

let onAnswer = (): void => {};
function received(bytes: Buffer, remote: { address: string; port: number }): void {
  const packet = decodeDhcpPacket(bytes);
  const client = clients.get(packet.xid);
  const answer = client && readPxeAnswer(packet, remote.address, packet.xid);
  if (!client || !answer) return;
  const now = performance.now();
  if (now < endAt) answersWhileSending++;
  if (client.offered === undefined && client.requestAt === undefined) {
    client.offered = now;
    offerLatencies.push(now - client.discoverAt);
    const request = pxeClientRequest({ messageType: 3, mac: client.mac, xid: client.xid, ciaddr: options.clientAddress });
    // A menu (dnsmasq's pxe-service) is answered by asking for its first boot item; a boot file needs no item.
    const item = answer.menu.find((candidate) => candidate.type !== 0);
    const itemOption = item ? [[43, encodeSubOptions(new Map([[PXE_BOOT_ITEM, Uint8Array.of(item.type >> 8, item.type & 0xff, 0, 0)]]))] as const] : [];
    client.requestAt = now;
    send(sender, encodeDhcpPacket({ ...request, options: new Map([...request.options, ...itemOption]) }), 4011, answer.server);
  } else if (client.requestAt !== undefined && client.acked === undefined && remote.port === 4011) {
    client.acked = now;
    ackLatencies.push(now - client.requestAt);
    onAnswer();
  }
}
const started = performance.now();
const endAt = started + options.seconds * 1000;
receiver.on('message', received);
sender.on('message', received);

if (mode === 'rate') {
  const rate = options.rate ?? 500;
  // Sends what is due every millisecond tick, so the rate holds even when a timer fires late.
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(rate * options.seconds, Math.floor(((now - started) / 1000) * rate));
      while (nextIndex < due) discover();
      if (now >= endAt) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
} else if (mode === 'saturate') {
  // A client whose answer is lost is replaced after LOST_AFTER_MS, so the number in flight stays constant.
  onAnswer = () => {
    if (performance.now() < endAt) discover();
  };
  for (let i = 0; i < (options.inFlight ?? 32); i++) discover();
  const refill = setInterval(() => {
    const now = performance.now();
    for (const client of clients.values()) {
      if (client.acked === undefined && now - client.discoverAt > LOST_AFTER_MS && now < endAt) {
        client.acked = Number.NaN;
        discover();
      }
    }
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  clearInterval(refill);
} else {
  process.stderr.write('usage: dhcp-load.ts rate|saturate <json>\n');
  process.exit(2);
}
const sendingMs = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, LOST_AFTER_MS));
receiver.close();
sender.close();
const all = [...clients.values()];
process.stdout.write(
  `${JSON.stringify({
    discovers: all.length,
    offers: offerLatencies.length,
    acks: ackLatencies.length,
    sendingMs,
    answersWhileSending,
    offerLatencies,
    ackLatencies,
  })}\n`,
);
