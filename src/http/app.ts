// The Fastify app factory: boot scripts, menu, iPXE binaries, image files, health, dashboard; it never listens by itself.
import http, { type Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { cacheBootFileCheck, type BootFileChecker } from '../boot/image-files.ts';
import type { PlatformId } from '../boot/platform.ts';
import { renderBootScript, renderMenu, type MenuIngestState, type ScriptContext } from '../boot/scripts.ts';
import type { BootstationConfig } from '../config/model.ts';
import type { BootEventSink } from '../events/model.ts';
import type { IpxeBinaries } from '../ipxe/binaries.ts';
import { addBootEventHooks } from './boot-events.ts';
import { addBootRequestHook } from './boot-request.ts';
import { dashboardPlugin, type DashboardOptions } from './dashboard.ts';
import { refuseFile, sendBootFile } from './files.ts';
import { CanonicalHeaderResponse } from './header-case.ts';
import { createConnectionLimiter, createShutdownDrain, DEFAULT_HTTP_LIMITS, serverTimeouts, type HttpLimits } from './limits.ts';
import { setSecurityHeaders } from './security-headers.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Another http.Server that runs this app under the same limits (the connection caps count both), for one more
     * listening address; it closes with the app, which waits for it.
     */
    secondaryServer(): Server;
  }
}

/** What the HTTP app reads on every request; getters, so a config reload applies at once. */
export interface HttpAppOptions {
  config: () => BootstationConfig;
  /** http://<advertised address>:<port>, no trailing slash. */
  serverUrl: () => string;
  ipxe: () => IpxeBinaries;
  log: FastifyBaseLogger;
  /** Where fetches of scripts, binaries and image files are reported as boot events; optional. */
  events?: BootEventSink;
  /** HTTP responses being streamed; counted up and down when given (the metrics' active transfers). */
  activeTransfers?: { inc(): void; dec(): void };
  /** The dashboard at /, its JSON API and /metrics; without it the app serves boot files only. */
  dashboard?: DashboardOptions;
  /** Which boot files are missing and what each kernel is, per image; default: a cacheBootFileCheck of its own. */
  bootFiles?: BootFileChecker;
  /** The platform row ProxyDHCP learnt for a MAC from its option 93; the menu falls back on it. */
  dhcpPlatformOf?: (mac: string) => PlatformId | undefined;
  /** Image id → the server's ingest of it, for the menu's "downloading 42 %" and "failed: …" lines. */
  ingestStates?: () => ReadonlyMap<string, MenuIngestState>;
  /** Connection caps and timeouts; each one not given is DEFAULT_HTTP_LIMITS'. */
  limits?: Partial<HttpLimits>;
}

const IPXE_SCRIPT = 'text/plain; charset=utf-8';

/** Builds the Fastify app (scripts, menu, files, health, and the dashboard when given); it never listens by itself. */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  // Every listening server writes header names in their usual spelling (header-case.ts says why).
  const serverOptions = { ...serverTimeouts(limits), ServerResponse: CanonicalHeaderResponse };
  const app = Fastify({
    loggerInstance: options.log,
    // Fastify turns Node's request timeout off by default; a client must not hold a connection by sending slowly.
    requestTimeout: serverOptions.requestTimeout,
    http: serverOptions,
    // Our own onResponse hook writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // A malformed %-escape never reaches a route: refuse it like any other hostile path.
    // Hooks do not run for these early errors, so the request line is written here.
    frameworkErrors: (error, request, frameworkReply) => {
      const reply = frameworkReply as FastifyReply;
      setSecurityHeaders(reply.raw);
      reply.raw.once('finish', () => logRequest(request, reply));
      if (error.code === 'FST_ERR_BAD_URL') return refuseFile(request.raw.url ?? '', 'bad-encoding', request, reply);
      return reply.code(error.statusCode ?? 400).type('text/plain').send(`${error.message}\n`);
    },
  });

  const limiter = createConnectionLimiter(limits, (client, reason) => options.log.debug({ client, reason }, 'HTTP connection closed on arrival: over the connection cap'));
  limiter.attach(app.server);
  // close() resolves once every listening server is closed; downloads in flight get limits.closeGraceMs to finish.
  const drain = createShutdownDrain(limits.closeGraceMs, () =>
    options.log.info({ connections: limiter.open(), graceMs: limits.closeGraceMs }, 'HTTP connections still open at the end of the shutdown grace period were cut'),
  );
  drain.attach(app.server);
  app.decorate('secondaryServer', () => {
    const server = http.createServer(serverOptions, app.routing);
    server.keepAliveTimeout = app.server.keepAliveTimeout;
    limiter.attach(server);
    drain.attach(server);
    return server;
  });
  app.addHook('preClose', async () => drain.start());
  // onClose hooks run once Fastify's own server has closed; the secondary servers may still be draining.
  app.addHook('onClose', async () => drain.closed());
  const fileOptions = { stallMs: limits.stallMs };

  // On the raw response, so that bodies written past Fastify (files, the event stream) carry them too.
  app.addHook('onRequest', async (_request, reply) => setSecurityHeaders(reply.raw));
  // One log line per request, with what was sent.
  app.addHook('onResponse', async (request, reply) => logRequest(request, reply));
  // Before the boot events' hook, which reports what this one decided.
  addBootRequestHook(app, { config: options.config, ipxe: options.ipxe });
  addBootEventHooks(app, { events: options.events, activeTransfers: options.activeTransfers });
  if (options.dashboard) app.register(dashboardPlugin, options.dashboard);

  const bootFiles = options.bootFiles ?? cacheBootFileCheck();
  const scriptContext = async (request: FastifyRequest): Promise<ScriptContext> => {
    const config = options.config();
    const client = request.boot?.client ?? {};
    const check = await bootFiles(config);
    const dhcpPlatform = client.mac === undefined ? undefined : options.dhcpPlatformOf?.(client.mac);
    return {
      config,
      serverUrl: options.serverUrl(),
      client,
      missingFiles: check.missing,
      kernels: check.kernels,
      ...(dhcpPlatform ? { dhcpPlatform } : {}),
      ...(options.ingestStates ? { ingestStates: options.ingestStates() } : {}),
    };
  };

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/boot.ipxe', { config: { role: 'boot-script' } }, async (request, reply) => {
    reply.type(IPXE_SCRIPT).header('cache-control', 'no-store');
    return renderBootScript(await scriptContext(request));
  });

  app.get('/menu.ipxe', { config: { role: 'menu' } }, async (request, reply) => {
    reply.type(IPXE_SCRIPT).header('cache-control', 'no-store');
    return renderMenu(await scriptContext(request));
  });

  // The boot policy decided on arrival what a file path serves (request.boot.file), the same way as for TFTP.
  const sendFileOfRequest = (request: FastifyRequest, reply: FastifyReply) => {
    const boot = request.boot ?? { path: '', client: {} };
    return sendBootFile(boot.file ?? { served: false, reason: 'not-found' }, boot.path, request, reply, fileOptions);
  };
  app.route({ method: ['GET', 'HEAD'], url: '/ipxe/*', config: { role: 'ipxe-binary' }, handler: sendFileOfRequest });
  app.route({ method: ['GET', 'HEAD'], url: '/images/*', config: { role: 'image-file' }, handler: sendFileOfRequest });

  return app;
}

function logRequest(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info(
    {
      method: request.method,
      url: request.raw.url?.slice(0, 512),
      status: reply.statusCode,
      range: request.headers.range,
      bytes: request.method === 'HEAD' ? 0 : Number(reply.getHeader('content-length') ?? 0),
      ms: Math.round(reply.elapsedTime),
      client: request.ip,
      // Which client fetched (UefiHttpBoot/1.0, iPXE/2.0.0, GRUB): a client-chosen string, so length-limited.
      userAgent: request.headers['user-agent']?.slice(0, 128),
    },
    'http request',
  );
}
