// The iPXE binaries a running server hands out: found at start, found again when a build or a reload changes them.
import type { Logger } from 'pino';
import { findIpxeBinaries, STOCK_IPXE_DIR, STOCK_IPXE_FIX, STOCK_IPXE_LACKS_TEXT, type IpxeBinaries } from '../ipxe/binaries.ts';
import { watchIpxeManifest } from '../ipxe/watch-binaries.ts';

/** The binaries in force, with a rescan for when they may have changed. */
export interface LiveIpxeBinaries {
  current(): IpxeBinaries;
  /** Looks at the folder again; resolves when this scan (and every earlier one) is done. */
  rescan(): Promise<void>;
  close(): void;
}

/** Finds the binaries in `dir` (else Debian's stock ones) and watches dir's manifest.json, which a build writes last. */
export async function watchIpxeBinaries(dir: string, log: Logger, stockDir: string = STOCK_IPXE_DIR): Promise<LiveIpxeBinaries> {
  let binaries = await findIpxeBinaries(dir, stockDir);
  logIpxeBinaries(log, binaries);
  // One scan at a time, so an older result never replaces a newer one.
  let scan = Promise.resolve();
  const rescan = (): Promise<void> =>
    (scan = scan.then(async () => {
      const found = await findIpxeBinaries(dir, stockDir);
      if (ipxeSummary(found) !== ipxeSummary(binaries)) logIpxeBinaries(log, found);
      binaries = found;
    }));
  const stopWatching = watchIpxeManifest(dir, () => void rescan());
  return { current: () => binaries, rescan, close: stopWatching };
}

function logIpxeBinaries(log: Logger, ipxe: IpxeBinaries): void {
  const files = [...ipxe.files.keys()].join(', ') || 'none';
  if (ipxe.kind === 'own-build') log.info({ dir: ipxe.dir, files, ...ipxe.build }, "serving bootstation's own iPXE build from the data directory");
  else if (ipxe.kind === 'custom') log.info({ dir: ipxe.dir, files }, 'serving custom iPXE binaries from the data directory (no manifest.json of a bootstation build, so other iPXE clients are not sent to them)');
  else log.warn({ dir: ipxe.dir, files }, `serving Debian's stock iPXE binaries, which lack ${STOCK_IPXE_LACKS_TEXT}: ${STOCK_IPXE_FIX}`);
}

// What the log line says about a scan; a rescan that finds the same is not logged again.
function ipxeSummary(ipxe: IpxeBinaries): string {
  return JSON.stringify([ipxe.dir, ipxe.kind, [...ipxe.files.keys()], ipxe.kind === 'own-build' ? ipxe.build : null]);
}
