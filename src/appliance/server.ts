// The appliance core: wires HTTP, TFTP and ProxyDHCP to the live configuration, the iPXE binaries, the image
// files and the dashboard's ingest jobs, and stops them again. The CLI parses arguments and calls startAppliance.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { cacheBootFileCheck, cachePerConfig } from '../boot/image-files.ts';
import { platformOfClientKind } from '../boot/platform.ts';
import { findBootFile } from '../boot/policy.ts';
import { createLiveConfig, type LiveConfig } from '../config/live-config.ts';
import { loadConfigFile } from '../config/load.ts';
import type { BootstationConfig } from '../config/model.ts';
import type { ProxyDhcpPolicy } from '../dhcp/proxy-answer.ts';
import { createProxyDhcpService } from '../dhcp/service.ts';
import { createIngestJobs } from '../events/ingest-jobs.ts';
import { createBootMetrics, fanOut } from '../events/metrics.ts';
import { createEventStore } from '../events/store.ts';
import { openForReading } from '../files/boot-files.ts';
import { dataLayout } from '../files/data-dir.ts';
import { buildHttpApp } from '../http/app.ts';
import { httpListenAddresses, listenHttp } from '../http/listen.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { STOCK_IPXE_DIR } from '../ipxe/binaries.ts';
import { interfaceMtu, resolveServingAddress } from '../net/interfaces.ts';
import { createTftpService } from '../tftp/service.ts';
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
}

/** A running appliance. */
export interface Appliance {
  /** The ports bound (the asked-for ones, or what the OS gave for 0); dhcp and pxe are absent without ProxyDHCP. */
  ports: { http: number; tftp: number; dhcp?: number; pxe?: number };
  /** http://<serving address>[:port], as clients are told. */
  serverUrl: string;
  config: LiveConfig;
  /** Stops every service and watcher; resolves when the sockets are closed. */
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
  const live = createLiveConfig(configPath, initial, log, {
    dataDir,
    onChange: (config) => {
      forgetImageFiles();
      void ipxe.rescan();
      history.setMaxClients(config.server.historyClients ?? 100);
      events.emit({ kind: 'config-reload', applied: true });
    },
    onReject: () => events.emit({ kind: 'config-reload', applied: false }),
  });
  const ingestLog = log.child({ service: 'ingest' });
  const ingest = createIngestJobs({
    images: () => live.current().images,
    events,
    now,
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
        forgetImageFiles();
      }
    },
  });

  let serverUrl = '';
  const app = buildHttpApp({
    config: live.current,
    bootFiles,
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
      adminToken: () => live.current().server.adminToken,
      title: () => live.current().menu.title,
    },
  });
  const closers: Array<() => Promise<unknown>> = [() => app.close()];
  const closeAll = async (): Promise<void> => {
    live.close();
    ipxe.close();
    await Promise.allSettled(closers.map((close) => close()));
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
    log.info(
      { interface: serving.interface, address: serving.address, chosenBy: serving.source, http: serverUrl, httpListen, proxyDhcp, config: configPath, data: dataDir },
      'bootstation serving',
    );
    return { ports, serverUrl, config: live, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
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
