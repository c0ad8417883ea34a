// The dashboard's Server-Sent Events stream of boot events, bounded in total, per address and per unread bytes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BootEvent } from '../events/model.ts';
import type { ClientView, EventStore } from '../events/store.ts';

/** Limits of the Server-Sent Events endpoint. */
export interface EventStreamOptions {
  store: EventStore;
  /** A comment line this often keeps proxies and phones from closing an idle stream; default 15 s. */
  heartbeatMs?: number;
  /** Streams open at once; more get 503. Default 32. */
  maxStreams?: number;
  /** Streams open at once from one client address, so one client cannot lock the others out; default 4. */
  maxStreamsPerAddress?: number;
  /** Bytes a stream may leave unread before it is dropped; default 1 MiB. */
  maxUnreadBytes?: number;
}

// A dashboard tab holds one stream; a few tabs per machine are normal, and 32 streams of at most 1 MiB unread
// each bound the memory all streams can hold to 32 MiB (16 streams that never read held 345 MB before).
const DEFAULT_MAX_STREAMS = 32;
const DEFAULT_MAX_STREAMS_PER_ADDRESS = 4;
// Well above what a reader that keeps up leaves in the socket's buffer (a replay of REPLAY_EVENTS events is
// about 300 KB); a client that stops reading reaches it and is dropped instead of growing without end.
const DEFAULT_MAX_UNREAD_BYTES = 1024 * 1024;
// Events replayed to a client that reconnects; an older gap is filled by reloading the page.
const REPLAY_EVENTS = 500;

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
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const maxPerAddress = options.maxStreamsPerAddress ?? DEFAULT_MAX_STREAMS_PER_ADDRESS;
  const maxUnreadBytes = options.maxUnreadBytes ?? DEFAULT_MAX_UNREAD_BYTES;
  const streams = new Set<() => void>();
  const perAddress = new Map<string, number>();
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    const address = request.ip;
    if (streams.size >= maxStreams) {
      reply.code(503).header('retry-after', '10').type('text/plain').send(`too many event streams open (${maxStreams}); close a dashboard tab and retry\n`);
      return;
    }
    if ((perAddress.get(address) ?? 0) >= maxPerAddress) {
      reply.code(503).header('retry-after', '10').type('text/plain').send(`too many event streams open from ${address} (${maxPerAddress}); close a dashboard tab and retry\n`);
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
      for (const event of options.store.since(since, REPLAY_EVENTS)) {
        const client = event.client === undefined ? undefined : options.store.client(event.client)?.view;
        raw.write(formatStreamMessage(event, client, undefined));
      }
    }
    // Node queues whatever the socket cannot take yet in memory, without limit: a reader that stops is cut off.
    const send = (text: string): void => {
      if (raw.write(text) || raw.writableLength <= maxUnreadBytes) return;
      request.log.warn({ client: address, unread: raw.writableLength, limit: maxUnreadBytes }, 'event stream dropped: the client left more than the limit unread (it reconnects with Last-Event-ID)');
      cleanup();
      raw.destroy();
    };
    const unsubscribe = options.store.subscribe((event, client, replaced) => send(formatStreamMessage(event, client, replaced)));
    const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
    const cleanup = (): void => {
      if (!streams.delete(end)) return;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      clearInterval(heartbeat);
      unsubscribe();
    };
    const end = (): void => {
      cleanup();
      raw.end();
    };
    streams.add(end);
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
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
