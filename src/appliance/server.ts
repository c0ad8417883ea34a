// The appliance core: wires HTTP, TFTP and ProxyDHCP to the live configuration, the iPXE binaries, the image
// files and the ingest runner (the server's own ingests and the dashboard's), and stops them again. The CLI
// parses arguments and calls startAppliance.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { cacheBootFileCheck, cachePerConfig } from '../boot/image-files.ts';
import { platformOfClientKind } from '../boot/platform.ts';
import { findBootFile } from '../boot/policy.ts';
import { createLiveConfig, type LiveConfig } from '../config/live-config.ts';
import { loadConfigFile } from '../config/load.ts';
import { ingestSettingsOf, type BootstationConfig } from '../config/model.ts';
import type { ProxyDhcpPolicy } from '../dhcp/proxy-answer.ts';
import { createProxyDhcpService } from '../dhcp/service.ts';
import { createIngestJobs, type IngestJobState, type IngestTimers } from '../events/ingest-jobs.ts';
import { createBootMetrics, fanOut } from '../events/metrics.ts';
import { createEventStore } from '../events/store.ts';
import { openForReading } from '../files/boot-files.ts';
import { dataLayout, imageLayout } from '../files/data-dir.ts';
import { buildHttpApp } from '../http/app.ts';
import { httpListenAddresses, listenHttp } from '../http/listen.ts';
import { freeBytes } from '../ingest/disk-space.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { rollbackImage } from '../ingest/install.ts';
import { STOCK_IPXE_DIR } from '../ipxe/binaries.ts';
import { interfaceMtu, resolveServingAddress } from '../net/interfaces.ts';
import { createTftpService } from '../tftp/service.ts';
import type { MenuIngestState } from '../boot/scripts.ts';
import { createAutoIngest } from './auto-ingest.ts';
import { prepareFirstStart } from './first-start.ts';
import { watchIpxeBinaries } from './ipxe-binaries.ts';

/** Where and how the appliance serves; undefined means "take it from images.yaml". */
export interface ApplianceSettings {
  configPath: string;
  dataDir: string;
  interface?: string;
  address?: string;
  httpPort?: number;
  /** Addresses HTTP listens on besides the serving address and loopback, or 'all'; undefined: server.http_listen. */
  httpListen?: readonly string[] | 'all';
  /** 0 for any free port (tests); the bound ports are in the handle. */
  tftpPort: number;
  dhcpPort: number;
  pxePort: number;
  proxyDhcp?: boolean;
  /** The iPXE binaries built into the container image: first start copies them into data/ipxe (and writes a starter images.yaml). */
  imageIpxeDir?: string;
}

/** What the core needs from the outside besides its settings. */
export interface ApplianceDependencies {
  log: Logger;
  /** Milliseconds since the epoch, for the boot history and ingest durations; default Date.now. */
  now?: () => number;
  /** Debian's stock iPXE binaries, used when data/ipxe has none; default /usr/lib/ipxe. */
  stockIpxeDir?: string;
  /** The timers of the ingest runner (retries) and the release checks (ingest.check_every); default the global ones. */
  timers?: IngestTimers;
  /** How long the runner waits after a transient failure, doubling up to maxMs; default 1 min to 1 h. */
  ingestRetry?: { firstMs: number; maxMs: number };
}

/** A running appliance. */
export interface Appliance {
  /** The ports bound (the asked-for ones, or what the OS gave for 0); dhcp and pxe are absent without ProxyDHCP. */
  ports: { http: number; tftp: number; dhcp?: number; pxe?: number };
  /** http://<serving address>[:port], as clients are told. */
  serverUrl: string;
  config: LiveConfig;
  /** Resolves when the ingest runner has nothing running or queued (tests; retries waiting on a timer do not count). */
  ingestIdle(): Promise<void>;
  /** Stops every service and watcher and aborts a running ingest; resolves when the sockets are closed and that ingest has stopped. */
  close(): Promise<void>;
}

/**
 * Starts the appliance: first start (when imageIpxeDir is given), the configuration, HTTP, TFTP and ProxyDHCP.
 * Rejects with the bind error of the first service that cannot start, after closing the ones that did.
 */
export async function startAppliance(settings: ApplianceSettings, dependencies: ApplianceDependencies): Promise<Appliance> {
  const { log } = dependencies;
  const now = dependencies.now ?? Date.now;
  const configPath = resolve(settings.configPath);
  const dataDir = resolve(settings.dataDir);
  if (settings.imageIpxeDir) {
    const report = await prepareFirstStart({ configPath, dataDir, imageIpxeDir: settings.imageIpxeDir });
    log.info({ ...report, config: configPath, imageIpxeDir: settings.imageIpxeDir }, 'prepared the container volumes');
  }
  const initial = await loadConfigFile(configPath, { dataDir });
  const serving = await resolveServingAddress({
    interface: settings.interface ?? initial.server.interface,
    address: settings.address ?? initial.server.address,
  });
  // Ports and addresses are bound once; a reload changes what is served, not where.
  const proxyDhcp = settings.proxyDhcp ?? initial.server.proxyDhcp;
  const httpListen = httpListenAddresses(settings.httpListen ?? initial.server.httpListen, serving.address);

  const ipxe = await watchIpxeBinaries(dataLayout(dataDir).ipxe, log, dependencies.stockIpxeDir ?? STOCK_IPXE_DIR);
  // The boot history and metrics every service reports to; TFTP's live count is read at scrape time.
  const history = createEventStore({ now, maxClients: initial.server.historyClients });
  let tftpActive = (): number => 0;
  const metrics = createBootMetrics({ tftpActive: () => tftpActive() });
  const events = fanOut(history, metrics);
  // The state of the image files on disk, shared by the menu and the dashboard: checked again after a reload
  // (a new config is a new cache key), when an ingest ends, and otherwise at most once per 2 s.
  const bootFiles = cacheBootFileCheck({ now });
  const imageStatuses = cachePerConfig((config: BootstationConfig) => readImageStatuses(config, dataDir, async (c) => (await bootFiles(c)).missing), { now });
  const forgetImageFiles = (): void => {
    bootFiles.forget();
    imageStatuses.forget();
  };
  // The config the auto-ingest last saw, so a reload queues the images whose source changed since.
  let applied = initial;
  const live = createLiveConfig(configPath, initial, log, {
    dataDir,
    onChange: (config) => {
      forgetImageFiles();
      void ipxe.rescan();
      history.setMaxClients(config.server.historyClients ?? 100);
      events.emit({ kind: 'config-reload', applied: true });
      const previous = applied;
      applied = config;
      decideIngests(previous);
    },
    onReject: () => events.emit({ kind: 'config-reload', applied: false }),
  });
  const ingestLog = log.child({ service: 'ingest' });
  const timers = dependencies.timers ?? { setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms).unref(), clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout) };
  const ingest = createIngestJobs({
    images: () => live.current().images,
    events,
    now,
    timers,
    ...(dependencies.ingestRetry ? { retry: dependencies.ingestRetry } : {}),
    // The downloader is loaded with the first ingest, not kept in memory by a server that never ingests.
    run: async (image, progress, how) => {
      const [{ default: got }, { ingestImage }] = await Promise.all([import('got'), import('../ingest/ingest-image.ts')]);
      ingestLog.info({ image: image.id, automatic: how.automatic }, 'ingest started');
      try {
        const outcome = await ingestImage(image, {
          dataDir,
          // The signal reaches every request of the ingest (index, checksums, archive), so a shutdown cuts them.
          http: got.extend({ signal: how.signal }),
          signal: how.signal,
          info: (message) => ingestLog.info({ image: image.id }, message),
          warn: (message) => ingestLog.warn({ image: image.id }, message),
          progress: () => progress,
          keepVersions: ingestSettingsOf(live.current()).keepVersions,
          respectPin: how.automatic,
        });
        ingestLog.info({ image: image.id, outcome: outcome.status }, outcome.status === 'pinned' ? 'ingest skipped: a rollback pinned the version serving' : `ingest ended: ${outcome.status}`);
        return outcome;
      } catch (error) {
        if (how.signal.aborted) ingestLog.info({ image: image.id }, 'ingest stopped: the server is shutting down');
        else ingestLog.warn({ image: image.id, code: (error as { code?: unknown }).code, err: { message: (error as Error).message } }, 'ingest failed');
        throw error;
      } finally {
        // The image's files changed: the menu and the dashboard see them at once, not within 2 s.
        forgetImageFiles();
      }
    },
  });
  const autoIngest = createAutoIngest({
    config: live.current,
    dataDir,
    jobs: ingest,
    timers,
    info: (fields, message) => ingestLog.info(fields, message),
  });
  // What to ingest is decided from the disk in the background; ingestIdle waits for the last decision first.
  let deciding: Promise<unknown> = Promise.resolve();
  const decideIngests = (previous: BootstationConfig | undefined): void => {
    deciding = autoIngest.configApplied(previous).catch((error: Error) => ingestLog.error({ err: { message: error.message } }, 'cannot decide what to ingest'));
  };

  let serverUrl = '';
  const app = buildHttpApp({
    config: live.current,
    bootFiles,
    ingestStates: () => menuIngestStates(ingest.states()),
    // The platform ProxyDHCP last offered this MAC a file for (its option 93), for menus of iPXE builds that do not say.
    dhcpPlatformOf: (mac) => platformOfClientKind(history.client(mac)?.view.firmware ?? '')?.platform.id,
    serverUrl: () => serverUrl,
    ipxe: ipxe.current,
    log,
    events,
    activeTransfers: metrics.httpActive,
    dashboard: {
      store: history,
      metrics,
      images: () => imageStatuses(live.current()),
      ipxe: ipxe.current,
      ingest,
      check: (id) => autoIngest.checkNow(id),
      rollback: async (id) => {
        const switched = await rollbackImage(imageLayout(dataDir, id));
        ingestLog.info({ image: id, ...switched }, 'rolled back from the dashboard');
        forgetImageFiles();
        return switched;
      },
      diskFree: () => freeBytes(dataDir),
      adminToken: () => live.current().server.adminToken,
      title: () => live.current().menu.title,
    },
  });
  const closers: Array<() => Promise<unknown>> = [() => app.close()];
  const closeAll = async (): Promise<void> => {
    live.close();
    ipxe.close();
    autoIngest.close();
    // Aborts a running ingest; it removes its staging folder and lock before the process may exit.
    const ingestStopped = ingest.close();
    await Promise.allSettled([...closers.map((close) => close()), ingestStopped]);
  };

  try {
    const httpPort = await listenHttp(app, httpListen, settings.httpPort ?? initial.server.httpPort);
    serverUrl = `http://${serving.address}${httpPort === 80 ? '' : `:${httpPort}`}`;
    const tftp = await createTftpService({
      // Listens on every address of the host (a router may name any of them as next-server);
      // transfers leave from the advertised next-server address, which is what clients expect.
      address: '0.0.0.0',
      transferAddress: serving.address,
      port: settings.tftpPort,
      log: log.child({ service: 'tftp' }),
      maxBlockSize: await tftpMaxBlockSize(serving.interface),
      events,
      files: async (path, client) => {
        const found = await findBootFile(path, ipxe.current(), live.current());
        if (found.ok) return openForReading(found.path);
        // Debug: any client can ask for refused names by the thousand; the TFTP summary counts them as file-not-found.
        if (found.reason !== 'not-found') log.debug({ service: 'tftp', client: client.address, path: path.slice(0, 128), reason: found.reason }, 'refused TFTP request');
        return undefined;
      },
    });
    closers.push(() => tftp.close());
    tftpActive = tftp.activeTransfers;
    const ports: Appliance['ports'] = { http: httpPort, tftp: tftp.port };
    if (proxyDhcp) {
      const dhcp = await createProxyDhcpService({
        address: serving.address,
        dhcpPort: settings.dhcpPort,
        pxePort: settings.pxePort,
        log: log.child({ service: 'proxydhcp' }),
        events,
        policy: (): ProxyDhcpPolicy => {
          const binaries = ipxe.current();
          return {
            serverAddress: serving.address,
            httpPort,
            bootScriptUrl: `${serverUrl}/boot.ipxe`,
            binaries: new Set(binaries.files.keys()),
            customBuild: binaries.kind === 'own-build',
            // Read per packet, so that a reload of server.dhcp_relays applies to the next one.
            relays: dhcpRelaySet(live.current().server.dhcpRelays),
          };
        },
      });
      closers.push(() => dhcp.close());
      ports.dhcp = dhcp.dhcpPort;
      ports.pxe = dhcp.pxePort;
    }
    live.watchFile();
    // In the background: the server serves what is ready while the rest downloads.
    decideIngests(undefined);
    log.info(
      { interface: serving.interface, address: serving.address, chosenBy: serving.source, http: serverUrl, httpListen, proxyDhcp, config: configPath, data: dataDir },
      'bootstation serving',
    );
    return { ports, serverUrl, config: live, ingestIdle: async () => {
        await deciding;
        await ingest.idle();
      }, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The runner's states as the menu shows them: queued and running are "downloading", retrying and failed say why. */
function menuIngestStates(states: ReadonlyMap<string, IngestJobState>): Map<string, MenuIngestState> {
  const shown = new Map<string, MenuIngestState>();
  for (const [id, state] of states) {
    if (state.phase === 'running' && state.total) shown.set(id, { kind: 'downloading', percent: Math.min(100, Math.floor((100 * (state.done ?? 0)) / state.total)) });
    else if (state.phase === 'running' || state.phase === 'queued') shown.set(id, { kind: 'downloading' });
    else shown.set(id, { kind: 'failed', message: state.message, ...(state.phase === 'retrying' ? { retrying: true } : {}) });
  }
  return shown;
}

/** server.dhcp_relays as a set; undefined (no list) lets ProxyDHCP answer any relay with a unicast address. */
function dhcpRelaySet(relays: readonly string[] | undefined): ReadonlySet<string> | undefined {
  return relays === undefined ? undefined : new Set(relays);
}

// RFC 2348 blksize must fit one datagram: MTU − 20 (IPv4) − 8 (UDP) − 4 (TFTP header).
async function tftpMaxBlockSize(interfaceName: string | undefined): Promise<number> {
  const mtu = interfaceName ? await interfaceMtu(interfaceName) : undefined;
  return Math.max(512, (mtu ?? 1500) - 32);
}
