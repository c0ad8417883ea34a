import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BootEvent } from '../events/model.ts';
import type { ClientView, EventStore } from '../events/store.ts';

/** Limits of the Server-Sent Events endpoint. */
export interface EventStreamOptions {
  store: EventStore;
  /** A comment line this often keeps proxies and phones from closing an idle stream; default 15 s. */
  heartbeatMs?: number;
  /** Streams open at once; more get 503. Default 16. */
  maxStreams?: number;
}

/** One SSE message: the event and the client row it changed, so a page updates without another request. */
export function formatStreamMessage(event: BootEvent, client: ClientView | undefined, replaced: string | undefined): string {
  return `id: ${event.id}\nevent: boot\ndata: ${JSON.stringify({ event, client, replaced })}\n\n`;
}

/** The GET /api/events/stream handler, and a way to end every open stream (the server is closing). */
export interface EventStream {
  handler: (request: FastifyRequest, reply: FastifyReply) => void;
  /** Ends every open stream: a server waits for open responses before it closes. */
  endAll(): void;
}

/** Builds the stream endpoint: backlog since Last-Event-ID or ?since, then live events. */
export function createEventStream(options: EventStreamOptions): EventStream {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxStreams = options.maxStreams ?? 16;
  const streams = new Set<() => void>();
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    if (streams.size >= maxStreams) {
      reply.code(503).header('retry-after', '10').type('text/plain').send(`too many event streams open (${maxStreams}); close a dashboard tab and retry\n`);
      return;
    }
    const since = sinceOf(request);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and friends would otherwise hold the stream back in their buffers.
      'x-accel-buffering': 'no',
    });
    // A client that reconnects after `retry` ms sends Last-Event-ID, and gets what it missed.
    raw.write('retry: 3000\n\n');
    if (since !== undefined) {
      for (const event of options.store.since(since)) {
        const client = event.client === undefined ? undefined : options.store.client(event.client)?.view;
        raw.write(formatStreamMessage(event, client, undefined));
      }
    }
    const unsubscribe = options.store.subscribe((event, client, replaced) => {
      raw.write(formatStreamMessage(event, client, replaced));
    });
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs);
    const cleanup = (): void => {
      if (!streams.delete(end)) return;
      clearInterval(heartbeat);
      unsubscribe();
    };
    const end = (): void => {
      cleanup();
      raw.end();
    };
    streams.add(end);
    raw.once('close', cleanup);
    raw.once('error', cleanup);
  };
  return { handler, endAll: () => [...streams].forEach((end) => end()) };
}

function sinceOf(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.['since'];
  const text = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}
