// Opens UDP sockets: the only module that creates them.
import { createSocket, type Socket } from 'node:dgram';
import { BindError } from './bind-error.ts';

/** How to open one UDP socket; the only place in bootstation that creates UDP sockets. */
export interface UdpSocketOptions {
  /** Name of the service for error messages and logs, e.g. "ProxyDHCP". */
  service: string;
  address: string;
  /** 0 picks a free port (tests, TFTP transfer sockets). */
  port: number;
  /** Allow sending to 255.255.255.255 (DHCP replies to clients without an address). */
  broadcast?: boolean;
  /** SO_REUSEADDR, so a socket bound to 0.0.0.0 and one bound to a single address can share a port. */
  reuseAddr?: boolean;
}

/** Opens and binds a UDP socket; a failed bind rejects with a BindError that says how to fix it. */
export function openUdpSocket(options: UdpSocketOptions): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: options.reuseAddr ?? false });
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      socket.close();
      reject(new BindError(options.service, 'udp', options.address, options.port, error));
    };
    socket.once('error', onError);
    socket.bind({ address: options.address, port: options.port, exclusive: true }, () => {
      socket.off('error', onError);
      if (options.broadcast) socket.setBroadcast(true);
      resolve(socket);
    });
  });
}
