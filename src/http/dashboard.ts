// The dashboard at /, its JSON API under /api and Prometheus /metrics, as one Fastify plugin. Everything
// here is read-only except the POST endpoints (ingest, check, rollback), which are off unless server.admin_token is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageStatus } from '../ingest/image-status.ts';
import { IngestErrorCode } from '../ingest/ingest-error.ts';
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
  /** Queues a check for new releases of one image or (no id) of every automatic one; absent, the check endpoints answer 404. */
  check?: (id?: string) => { queued: string[] } | { refused: 'unknown-image' | 'not-ingestable' };
  /** Switches an image back to its previous version; rejects with an IngestError (codes NoPreviousVersion, Busy). */
  rollback?: (id: string) => Promise<{ from: string; to: string }>;
  /** Free bytes on the data directory's disk, for /api/images. */
  diskFree?: () => Promise<number>;
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
      diskFree: options.diskFree ? await options.diskFree().catch(() => null) : null,
      ingestStates: Object.fromEntries(options.ingest?.states() ?? []),
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
  app.get('/api/images', async () => ({
    images: await options.images(),
    ingestRunning: options.ingest?.running() ?? null,
    // Image id → queued, running (bytes done of total), retrying (when, why) or failed (why): the runner's view.
    ingestStates: Object.fromEntries(options.ingest?.states() ?? []),
    diskFree: options.diskFree ? await options.diskFree().catch(() => null) : null,
  }));
  app.get('/api/ipxe', async () => describeIpxe(options.ipxe()));

  // The mutating endpoints: 404 while server.admin_token is unset, 401 without the right bearer token.
  const admitted = (request: FastifyRequest, reply: FastifyReply, what: string, available: boolean): boolean => {
    const token = options.adminToken();
    if (!available || token === undefined) {
      void reply.code(404).send({ error: 'admin-off', message: `${what} from the dashboard is off; set server.admin_token in images.yaml to turn it on` });
      return false;
    }
    if (!bearerMatches(request.headers.authorization, token)) {
      void reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'this endpoint needs the header Authorization: Bearer <server.admin_token>' });
      return false;
    }
    return true;
  };

  app.post('/api/images/:id/ingest', async (request, reply) => {
    if (!admitted(request, reply, 'ingest', options.ingest !== undefined)) return reply;
    const { id } = request.params as { id: string };
    const started = options.ingest!.start(id);
    if (started.started) return reply.code(202).send({ started: id });
    if (started.reason === 'busy') return reply.code(409).send({ error: 'busy', message: `an ingest of ${started.running} is running; one runs at a time, retry when it has finished` });
    if (started.reason === 'unknown-image') return reply.code(404).send({ error: 'unknown-image', message: 'images.yaml has no image with this id' });
    return reply.code(409).send({ error: 'not-ingestable', message: 'this image has a dir source, which is served as it is; only url and path sources are ingested' });
  });

  // A check queues the image(s) in the one ingest runner: the answer comes before the check, its result as ingest events.
  const check = async (request: FastifyRequest, reply: FastifyReply, id: string | undefined) => {
    if (!admitted(request, reply, 'checking for new releases', options.check !== undefined)) return reply;
    const result = options.check!(id);
    if ('queued' in result) return reply.code(202).send({ queued: result.queued });
    if (result.refused === 'unknown-image') return reply.code(404).send({ error: 'unknown-image', message: 'images.yaml has no image with this id' });
    return reply.code(409).send({ error: 'not-ingestable', message: 'this image has a dir source, which is served as it is; only url and path sources are checked' });
  };
  app.post('/api/images/check', async (request, reply) => check(request, reply, undefined));
  app.post('/api/images/:id/check', async (request, reply) => check(request, reply, (request.params as { id: string }).id));

  app.post('/api/images/:id/rollback', async (request, reply) => {
    if (!admitted(request, reply, 'rollback', options.rollback !== undefined)) return reply;
    const { id } = request.params as { id: string };
    const images = await options.images();
    if (!images.some((image) => image.id === id && (image.source === 'url' || image.source === 'path'))) {
      return reply.code(404).send({ error: 'unknown-image', message: 'images.yaml has no ingested image with this id' });
    }
    try {
      const { from, to } = await options.rollback!(id);
      return reply.code(200).send({ image: id, from, to });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === IngestErrorCode.NoPreviousVersion) return reply.code(409).send({ error: 'no-previous-version', message: (error as Error).message });
      if (code === IngestErrorCode.Busy) return reply.code(409).send({ error: 'busy', message: (error as Error).message });
      throw error;
    }
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
