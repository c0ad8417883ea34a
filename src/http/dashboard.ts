// The dashboard at /, its JSON API under /api and Prometheus /metrics, as one Fastify plugin. Everything
// here is read-only except POST /api/images/:id/ingest, which is off unless server.admin_token is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ImageStatus } from '../ingest/image-status.ts';
import type { IngestJobs } from '../events/ingest-jobs.ts';
import type { BootMetrics } from '../events/metrics.ts';
import type { EventStore } from '../events/store.ts';
import type { IpxeBinaries } from '../ipxe/binaries.ts';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './dashboard-assets.ts';
import { describeIpxe, renderDashboardPage } from './dashboard-page.ts';
import { createEventStream } from './event-stream.ts';

/** What the dashboard reads; getters, so a config reload or a new iPXE build shows at once. */
export interface DashboardOptions {
  store: EventStore;
  metrics: BootMetrics;
  /** Every configured image's state, as `bootstation images` shows it. */
  images: () => Promise<ImageStatus[]>;
  ipxe: () => IpxeBinaries;
  /** Runs ingests; absent, the ingest endpoint answers 404. */
  ingest?: IngestJobs;
  /** server.admin_token; undefined keeps the mutating endpoints off. */
  adminToken: () => string | undefined;
  /** Title of the page (menu.title). */
  title: () => string;
  /** Limits of /api/events/stream (see EventStreamOptions). */
  heartbeatMs?: number;
  maxStreams?: number;
  maxStreamsPerAddress?: number;
  maxUnreadBytes?: number;
}

// Never more events in one JSON answer than this; ask again with the last id as `since`.
const EVENTS_PAGE = 500;

/** Registers /, /dashboard.js, /dashboard.css, /api/* and /metrics. */
export async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { store, heartbeatMs, maxStreams, maxStreamsPerAddress, maxUnreadBytes } = options;
  const stream = createEventStream({ store, heartbeatMs, maxStreams, maxStreamsPerAddress, maxUnreadBytes });
  app.addHook('preClose', async () => stream.endAll());

  app.get('/', async (_request, reply) => {
    // A broken images.yaml being edited must not take the whole page down: the boot history is still worth seeing.
    const images = await options.images().catch((error: unknown) => error as Error);
    const page = renderDashboardPage({
      title: options.title(),
      clients: options.store.clients(),
      lastEventId: options.store.lastId(),
      images: images instanceof Error ? [] : images,
      imagesError: images instanceof Error ? images.message : undefined,
      ipxe: describeIpxe(options.ipxe()),
      ingestEnabled: options.ingest !== undefined && options.adminToken() !== undefined,
      ingestRunning: options.ingest?.running(),
    });
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
  });
  app.get('/dashboard.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(DASHBOARD_SCRIPT));
  app.get('/dashboard.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(DASHBOARD_STYLE));

  app.get('/api/events', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const since = query['since'] ?? '0';
    if (typeof since !== 'string' || !/^\d{1,15}$/.test(since)) {
      return reply.code(400).send({ error: 'bad-since', message: 'since must be an event id (a whole number), e.g. /api/events?since=42' });
    }
    const events = options.store.since(Number(since), EVENTS_PAGE);
    return { lastId: options.store.lastId(), events };
  });
  app.get('/api/events/stream', stream.handler);
  app.get('/api/clients', async () => ({ clients: options.store.clients() }));
  app.get('/api/images', async () => ({ images: await options.images(), ingestRunning: options.ingest?.running() ?? null }));
  app.get('/api/ipxe', async () => describeIpxe(options.ipxe()));

  app.post('/api/images/:id/ingest', async (request, reply) => {
    const token = options.adminToken();
    if (!options.ingest || token === undefined) {
      return reply.code(404).send({ error: 'admin-off', message: 'ingest from the dashboard is off; set server.admin_token in images.yaml to turn it on' });
    }
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'this endpoint needs the header Authorization: Bearer <server.admin_token>' });
    }
    const { id } = request.params as { id: string };
    const started = options.ingest.start(id);
    if (started.started) return reply.code(202).send({ started: id });
    if (started.reason === 'busy') return reply.code(409).send({ error: 'busy', message: `an ingest of ${started.running} is running; one runs at a time, retry when it has finished` });
    if (started.reason === 'unknown-image') return reply.code(404).send({ error: 'unknown-image', message: 'images.yaml has no image with this id' });
    return reply.code(409).send({ error: 'not-ingestable', message: 'this image has a dir source, which is served as it is; only url and path sources are ingested' });
  });

  app.get('/metrics', async (_request, reply) => {
    const registry = options.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/** Compares an Authorization header with the token in constant time (digests of equal length, whatever the input). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (\S+)$/.exec(header ?? '');
  if (!match) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}
