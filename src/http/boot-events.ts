// Fastify hooks that report HTTP fetches of scripts, binaries and image files as boot events.
import type { FastifyInstance } from 'fastify';
import type { BootEventSink } from '../events/model.ts';

/** Where the boot event hooks report; both outputs are optional, and without either no hook is added. */
export interface BootEventHookOptions {
  events?: BootEventSink;
  activeTransfers?: { inc(): void; dec(): void };
}

// Untrusted request text is cut to this many characters in events.
const PATH_LIMIT = 256;
const RANGE_LIMIT = 64;

/**
 * Reports every GET of a boot script, the menu, an iPXE binary or an image file when its response ends, also
 * when the client hung up halfway (a PC reset during a 1 GB download): then the bytes are what left the socket.
 * What the request is comes from request.boot (addBootRequestHook, which must run first): no URL is parsed here.
 */
export function addBootEventHooks(app: FastifyInstance, options: BootEventHookOptions): void {
  const { events, activeTransfers } = options;
  if (!events && !activeTransfers) return;
  app.addHook('onRequest', async (request, reply) => {
    const boot = request.boot;
    if (request.method !== 'GET' || !boot?.role) return;
    const { role, image, client } = boot;
    activeTransfers?.inc();
    const socket = request.raw.socket;
    const writtenBefore = socket.bytesWritten;
    reply.raw.once('close', () => {
      activeTransfers?.dec();
      if (!events) return;
      const finished = reply.raw.writableFinished;
      const length = Number(reply.getHeader('content-length') ?? 0);
      const bytes = finished ? length : Math.max(0, socket.bytesWritten - writtenBefore);
      const range = request.headers.range;
      events.emit({
        kind: 'http-fetch',
        ip: request.ip,
        mac: client.mac,
        role,
        path: boot.path.slice(0, PATH_LIMIT),
        image,
        // A response cut off by the client never got its full status across: report it as the 499 nginx uses.
        status: finished ? reply.statusCode : 499,
        bytes,
        durationMs: Math.round(reply.elapsedTime),
        range: range === undefined ? undefined : range.slice(0, RANGE_LIMIT),
      });
    });
  });
}
