// Bounds on what HTTP clients can hold: connections in total and per client address, how long a request
// or a stalled download may take, and how long open connections may hold up the server's shutdown. The three
// services share one thread and one memory, so every per-client resource has a cap and a lifetime.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULT_STALL_MS } from './file-body.ts';

/** The HTTP server's limits; README "Limits and bounds" lists them. */
export interface HttpLimits {
  /** A download whose client takes no data for this long is cut. */
  stallMs: number;
  /** A request (headers included) must arrive within this; a slower one is answered 408 and closed. */
  requestTimeoutMs: number;
  /** Connections open at once over every listening address; more are closed at once. */
  maxConnections: number;
  /** Connections open at once from one client address; more are closed at once. */
  maxConnectionsPerAddress: number;
  /** When the server closes, responses being sent may finish for this long; then their connections are cut. */
  closeGraceMs: number;
}

/**
 * 256 connections, each holding at most one 512 KiB file buffer while its client stalls, bound that memory to
 * 128 MiB (400 stalled downloads took RSS from 109 to 325 MB). 32 per address leave room for a browser's 6 and
 * a few machines behind one NAT, and keep one client from taking every slot. A request has 60 s, Node's own
 * bound for headers; a download that takes no data for 30 s is over. On shutdown a download has 5 s to finish
 * (a kernel or initrd over a LAN does), half of what `docker stop` waits before it kills the process.
 */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  stallMs: DEFAULT_STALL_MS,
  requestTimeoutMs: 60_000,
  maxConnections: 256,
  maxConnectionsPerAddress: 32,
  closeGraceMs: 5000,
};

/** Counts connections across every server it is attached to and closes those over a cap. */
export interface ConnectionLimiter {
  attach(server: Server): void;
  /** Connections open now, over all attached servers. */
  open(): number;
}

/** Why a connection was closed on arrival. */
export type ConnectionRefusal = 'too-many-connections' | 'too-many-from-address';

/** A limiter for `limits`; onRefuse hears of each connection closed on arrival. */
export function createConnectionLimiter(limits: Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerAddress'>, onRefuse: (address: string, reason: ConnectionRefusal) => void): ConnectionLimiter {
  let total = 0;
  const perAddress = new Map<string, number>();
  const admit = (socket: Socket): void => {
    const address = socket.remoteAddress ?? '';
    const fromAddress = perAddress.get(address) ?? 0;
    const refusal = total >= limits.maxConnections ? 'too-many-connections' : fromAddress >= limits.maxConnectionsPerAddress ? 'too-many-from-address' : undefined;
    if (refusal !== undefined) {
      onRefuse(address, refusal);
      socket.destroy();
      return;
    }
    total += 1;
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      total -= 1;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  };
  return {
    attach: (server) => void server.on('connection', admit),
    open: () => total,
  };
}

/** Node's options for a server that keeps these limits (Fastify passes them on to the server it creates). */
export function serverTimeouts(limits: Pick<HttpLimits, 'requestTimeoutMs'>): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  // Node checks the timeouts every connectionsCheckingInterval (default 30 s); each second keeps a 408 near its bound.
  return { requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs) };
}

/** Closes every server attached to it, letting the responses in flight finish for a grace period. */
export interface ShutdownDrain {
  /** Takes a server into the drain; call it before the server gets its first request. */
  attach(server: Server): void;
  /**
   * Stops every attached server from accepting and closes its idle connections (Node's close() does both); a connection
   * whose response finishes later closes then, and whatever is still open after the grace period is cut.
   */
  start(): void;
  /** Resolves when every attached server has closed, its connections with it. */
  closed(): Promise<void>;
}

/** A drain whose responses in flight may go on for `graceMs` once it starts; onCut hears when the rest are cut. */
export function createShutdownDrain(graceMs: number, onCut: () => void): ShutdownDrain {
  const servers: Server[] = [];
  const closings: Promise<void>[] = [];
  let draining = false;
  let cut: NodeJS.Timeout | undefined;
  return {
    attach: (server) => {
      servers.push(server);
      closings.push(new Promise((resolve) => server.once('close', () => resolve())));
      // Node closes the connections idle when close() is called, and no others: a keep-alive connection whose response
      // was still being sent stayed open once it was sent, until its client's next request or the keep-alive timeout.
      // This listener runs after Node's own, which has by then marked the connection idle.
      server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
        response.once('finish', () => {
          if (draining) server.closeIdleConnections();
        });
      });
    },
    start: () => {
      if (draining) return;
      draining = true;
      for (const server of servers) server.close();
      cut = setTimeout(() => {
        onCut();
        for (const server of servers) server.closeAllConnections();
      }, graceMs);
    },
    closed: async () => {
      await Promise.all(closings);
      clearTimeout(cut);
    },
  };
}
