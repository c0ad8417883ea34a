import { resolve } from 'node:path';
import { dataLayout } from '../files/data-dir.ts';
import type { Logger } from 'pino';
import { createLiveConfig } from '../config/live-config.ts';
import { loadConfigFile } from '../config/load.ts';
import { createIngestJobs } from '../events/ingest-jobs.ts';
import { createBootMetrics, fanOut } from '../events/metrics.ts';
import { createEventStore } from '../events/store.ts';
import { buildHttpApp } from '../http/app.ts';
import { httpListenAddresses, listenHttp } from '../http/listen.ts';
import { findIpxeBinaries, STOCK_IPXE_FIX, STOCK_IPXE_LACKS_TEXT, type IpxeBinaries } from '../ipxe/binaries.ts';
import { watchIpxeManifest } from '../ipxe/watch-binaries.ts';
import { interfaceMtu, resolveServingAddress } from '../net/interfaces.ts';
import { findBootFile, openForReading } from '../files/boot-files.ts';
import { createTftpService } from '../tftp/service.ts';
import { createProxyDhcpService } from '../dhcp/service.ts';
import type { ProxyDhcpPolicy } from '../dhcp/proxy-answer.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { cacheMissingBootFiles, cachePerConfig } from '../boot/image-files.ts';

/** Options of `bootstation serve`; undefined means "take it from images.yaml". */
export interface ServeOptions {
  configPath: string;
  dataDir: string;
  interface?: string;
  address?: string;
  httpPort?: number;
  /** Addresses HTTP listens on besides the serving address and loopback, or 'all'; undefined: server.http_listen. */
  httpListen?: readonly string[] | 'all';
  tftpPort: number;
  dhcpPort: number;
  pxePort: number;
  proxyDhcp?: boolean;
}

/** `bootstation serve`: wires config, HTTP, TFTP and ProxyDHCP together and runs until SIGTERM/SIGINT. */
export async function runServe(options: ServeOptions, log: Logger): Promise<number> {
  const configPath = resolve(options.configPath);
  const dataDir = resolve(options.dataDir);
  const initial = await loadConfigFile(options.configPath, { dataDir });
  const serving = await resolveServingAddress({
    interface: options.interface ?? initial.server.interface,
    address: options.address ?? initial.server.address,
  });
  // Ports and addresses are bound once; a reload changes what is served, not where.
  const httpPort = options.httpPort ?? initial.server.httpPort;
  const proxyDhcp = options.proxyDhcp ?? initial.server.proxyDhcp;
  const httpListen = httpListenAddresses(options.httpListen ?? initial.server.httpListen, serving.address);
  const serverUrl = `http://${serving.address}${httpPort === 80 ? '' : `:${httpPort}`}`;

  let ipxe = await findIpxeBinaries(dataLayout(dataDir).ipxe);
  logIpxeBinaries(log, ipxe);
  // Re-scanned on a config reload and when a build finishes (its manifest changes); one scan at a time,
  // so an older result never replaces a newer one.
  let scan = Promise.resolve();
  const rescanIpxe = (): void => {
    scan = scan.then(async () => {
      const found = await findIpxeBinaries(dataLayout(dataDir).ipxe);
      if (ipxeSummary(found) !== ipxeSummary(ipxe)) logIpxeBinaries(log, found);
      ipxe = found;
    });
  };
  // The boot history and metrics every service reports to; TFTP's live count is read at scrape time.
  const history = createEventStore({ now: Date.now, maxClients: initial.server.historyClients });
  let tftpActive = (): number => 0;
  const metrics = createBootMetrics({ tftpActive: () => tftpActive() });
  const events = fanOut(history, metrics);
  const live = createLiveConfig(configPath, initial, log, {
    dataDir,
    onChange: (config) => {
      rescanIpxe();
      history.setMaxClients(config.server.historyClients ?? 100);
      events.emit({ kind: 'config-reload', applied: true });
    },
    onReject: () => events.emit({ kind: 'config-reload', applied: false }),
  });
  const stopWatchingIpxe = watchIpxeManifest(dataLayout(dataDir).ipxe, rescanIpxe);
  // One check of the image files on disk, shared by the menu and the dashboard.
  const missingBootFiles = cacheMissingBootFiles();
  // Each image's manifest and failure record, read once for all the dashboards that ask within 2 s.
  const imageStatuses = cachePerConfig((config) => readImageStatuses(config, dataDir, missingBootFiles));
  const ingestLog = log.child({ service: 'ingest' });
  const ingest = createIngestJobs({
    images: () => live.current().images,
    events,
    now: Date.now,
    // The downloader is loaded with the first ingest from the dashboard, not kept in memory by every server.
    run: async (image, progress) => {
      const [{ default: got }, { ingestImage }] = await Promise.all([import('got'), import('../ingest/ingest-image.ts')]);
      try {
        return await ingestImage(image, {
          dataDir,
          http: got,
          info: (message) => ingestLog.info({ image: image.id }, message),
          warn: (message) => ingestLog.warn({ image: image.id }, message),
          progress: () => progress,
        });
      } finally {
        // The image's files changed: the menu and the dashboard see them at once, not within 2 s.
        missingBootFiles.forget();
        imageStatuses.forget();
      }
    },
  });

  const app = buildHttpApp({
    config: live.current,
    missingBootFiles,
    serverUrl: () => serverUrl,
    ipxe: () => ipxe,
    log,
    events,
    activeTransfers: metrics.httpActive,
    dashboard: {
      store: history,
      metrics,
      images: () => imageStatuses(live.current()),
      ipxe: () => ipxe,
      ingest,
      adminToken: () => live.current().server.adminToken,
      title: () => live.current().menu.title,
    },
  });
  const closers: Array<() => Promise<unknown>> = [() => app.close()];
  const closeAll = async (): Promise<void> => {
    live.close();
    stopWatchingIpxe();
    await Promise.allSettled(closers.map((close) => close()));
  };

  try {
    await listenHttp(app, httpListen, httpPort);
  } catch (error) {
    await closeAll();
    throw error;
  }
  try {
    const tftp = await createTftpService({
      // Listens on every address of the host (a router may name any of them as next-server);
      // transfers leave from the advertised next-server address, which is what clients expect.
      address: '0.0.0.0',
      transferAddress: serving.address,
      port: options.tftpPort,
      log: log.child({ service: 'tftp' }),
      maxBlockSize: await tftpMaxBlockSize(serving.interface),
      events,
      files: async (path, client) => {
        const found = await findBootFile(path, ipxe, live.current());
        if (found.ok) return openForReading(found.path);
        // Debug: any client can ask for refused names by the thousand; the TFTP summary counts them as file-not-found.
        if (found.reason !== 'not-found') log.debug({ service: 'tftp', client: client.address, path: path.slice(0, 128), reason: found.reason }, 'refused TFTP request');
        return undefined;
      },
    });
    closers.push(() => tftp.close());
    tftpActive = tftp.activeTransfers;
    if (proxyDhcp) {
      const dhcp = await createProxyDhcpService({
        address: serving.address,
        dhcpPort: options.dhcpPort,
        pxePort: options.pxePort,
        log: log.child({ service: 'proxydhcp' }),
        events,
        policy: (): ProxyDhcpPolicy => ({
          serverAddress: serving.address,
          httpPort,
          bootScriptUrl: `${serverUrl}/boot.ipxe`,
          binaries: new Set(ipxe.files.keys()),
          customBuild: ipxe.ownBuild,
          // Read per packet, so that a reload of server.dhcp_relays applies to the next one.
          relays: dhcpRelaySet(live.current().server.dhcpRelays),
        }),
      });
      closers.push(() => dhcp.close());
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  live.watchFile();
  log.info(
    { interface: serving.interface, address: serving.address, chosenBy: serving.source, http: serverUrl, httpListen, proxyDhcp, config: configPath, data: dataDir },
    'bootstation serving',
  );

  return await new Promise<number>((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'shutting down');
      process.off('SIGHUP', hangup);
      closeAll().then(() => done(0), () => done(1));
    };
    const hangup = (): void => void live.reload('SIGHUP');
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', hangup);
  });
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

function logIpxeBinaries(log: Logger, ipxe: IpxeBinaries): void {
  const files = [...ipxe.files.keys()].join(', ') || 'none';
  if (ipxe.build) log.info({ dir: ipxe.dir, files, ...ipxe.build }, "serving bootstation's own iPXE build from the data directory");
  else if (ipxe.custom) log.info({ dir: ipxe.dir, files }, 'serving custom iPXE binaries from the data directory (no manifest.json of a bootstation build, so other iPXE clients are not sent to them)');
  else log.warn({ dir: ipxe.dir, files }, `serving Debian's stock iPXE binaries, which lack ${STOCK_IPXE_LACKS_TEXT}: ${STOCK_IPXE_FIX}`);
}

// What the log line says about a scan; a rescan that finds the same is not logged again.
function ipxeSummary(ipxe: IpxeBinaries): string {
  return JSON.stringify([ipxe.dir, ipxe.custom, [...ipxe.files.keys()], ipxe.build ?? null]);
}
