// Sends a PXE DISCOVER from UDP port 68 as a PC's firmware would, and collects every answer for a while.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { decodeDhcpPacket, DhcpDecodeError, encodeDhcpPacket } from '../dhcp/codec.ts';
import { openUdpSocket } from '../net/udp.ts';
import { pxeDiscoverPacket, readPxeAnswer, type PxeAnswer } from './pxe-answers.ts';

/** Where and how long to ask. */
export interface PxeProbeOptions {
  /** An IPv4 address of the interface to ask on: the DISCOVER leaves through the interface that owns it. */
  address: string;
  /** The client MAC put in chaddr (the interface's own, so nothing invents a machine on the LAN). */
  mac: string;
  waitMs: number;
  /** 68, 67 and 4011 in production; tests use free ports. */
  clientPort?: number;
  serverPort?: number;
  bootServerPort?: number;
}

// A boot server answers its request within milliseconds; a second is generous.
const BOOT_SERVER_WAIT_MS = 1000;

/**
 * Broadcasts one DISCOVER and resolves with the answers heard within waitMs, one per server; a server that
 * answers with a PXE boot menu instead of a boot file is then asked for its first item on port 4011, as a
 * PXE ROM would, so that its boot file can be named. Like the ProxyDHCP
 * service it uses two sockets: one bound to the interface's address, so the broadcast leaves through that
 * interface, and one on 0.0.0.0, since only that one receives the broadcast answers (see GUIDE.md).
 */
export async function probePxeServers(options: PxeProbeOptions): Promise<PxeAnswer[]> {
  const clientPort = options.clientPort ?? 68;
  const serverPort = options.serverPort ?? 67;
  const xid = randomInt(1, 0xffffffff);
  const sockets: Socket[] = [];
  const answers = new Map<string, PxeAnswer>();
  try {
    const receiver = await openUdpSocket({ service: 'doctor PXE probe', address: '0.0.0.0', port: clientPort, reuseAddr: true, broadcast: true });
    sockets.push(receiver);
    const sender = await openUdpSocket({ service: 'doctor PXE probe', address: options.address, port: clientPort, reuseAddr: true, broadcast: true });
    sockets.push(sender);
    const onMessage = (bytes: Buffer, remote: { address: string }): void => {
      try {
        const answer = readPxeAnswer(decodeDhcpPacket(bytes), remote.address, xid);
        const known = answer && answers.get(answer.server);
        if (answer && !known) answers.set(answer.server, answer);
        // The boot server's answer completes the DISCOVER answer that only carried a menu.
        else if (answer && known && known.bootFile === undefined && answer.bootFile !== undefined) answers.set(answer.server, { ...known, bootFile: answer.bootFile });
      } catch (error) {
        // Whatever else arrives on port 68 is not ours to judge.
        if (!(error instanceof DhcpDecodeError)) throw error;
      }
    };
    for (const socket of sockets) socket.on('message', onMessage);
    await new Promise<void>((resolve, reject) => sender.send(encodeDhcpPacket(pxeDiscoverPacket(options.mac, xid)), serverPort, '255.255.255.255', (error) => (error ? reject(error) : resolve())));
    await new Promise((resolve) => setTimeout(resolve, options.waitMs));
    const menus = [...answers.values()].filter((answer) => answer.bootFile === undefined && answer.menu.some((item) => item.type !== 0));
    for (const answer of menus) {
      // Item type 0 is "boot from the local disk"; any other names a boot file on the server.
      const item = answer.menu.find((candidate) => candidate.type !== 0)!;
      const request = encodeDhcpPacket(pxeDiscoverPacket(options.mac, xid, { type: item.type, clientAddress: options.address }));
      sender.send(request, options.bootServerPort ?? 4011, answer.server);
    }
    if (menus.length > 0) await new Promise((resolve) => setTimeout(resolve, BOOT_SERVER_WAIT_MS));
    return [...answers.values()];
  } finally {
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}
