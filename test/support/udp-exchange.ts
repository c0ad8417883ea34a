// One UDP request and its answer, as a client at 127.0.0.2 (bootstation ignores packets from its own address).
import { createSocket } from 'node:dgram';

/** Sends one datagram from 127.0.0.2 to 127.0.0.1:port and resolves with the first answer, or rejects after 3 s. */
export function udpExchange(packet: Uint8Array, port: number): Promise<Buffer> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer from 127.0.0.1:${port} within 3 s`));
    }, 3000);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
    socket.bind(0, '127.0.0.2', () => socket.send(packet, port, '127.0.0.1'));
  });
}
