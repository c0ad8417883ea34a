// Where the HTTP app listens. By default the serving address and loopback only: with the container on
// network_mode: host, 0.0.0.0 put the dashboard, its API and /metrics on every interface of the NAS.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { BindError } from '../net/bind-error.ts';

const ANY_ADDRESS = '0.0.0.0';
const LOOPBACK = '127.0.0.1';

/**
 * The addresses to listen on: the serving address (clients fetch their scripts there) and loopback (the container's
 * health check), plus server.http_listen's addresses; every address for 'all'.
 */
export function httpListenAddresses(setting: readonly string[] | 'all' | undefined, servingAddress: string): string[] {
  const addresses = setting === 'all' ? [ANY_ADDRESS] : [...new Set([servingAddress, LOOPBACK, ...(setting ?? [])])];
  // A socket on 0.0.0.0 already takes every address; one more on a single address of the same port would clash.
  return addresses.includes(ANY_ADDRESS) ? [ANY_ADDRESS] : addresses;
}

/**
 * Listens on every address: the first with the app's own server, each other with a secondary server of the app.
 * Port 0 means the port the first listener got. Rejects with a BindError naming the address that failed.
 */
export async function listenHttp(app: FastifyInstance, addresses: readonly string[], port: number): Promise<number> {
  const [first, ...others] = addresses;
  if (first === undefined) throw new Error('listenHttp needs at least one address');
  await app.listen({ host: first, port }).catch((error: NodeJS.ErrnoException) => {
    throw new BindError('HTTP', 'tcp', first, port, error);
  });
  const bound = (app.server.address() as AddressInfo).port;
  for (const address of others) {
    const server = app.secondaryServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new BindError('HTTP', 'tcp', address, bound, error)));
      server.listen({ host: address, port: bound }, resolve);
    });
  }
  return bound;
}
