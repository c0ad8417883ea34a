// Watches data/ipxe/manifest.json so a running server picks up a new build within a second.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { join } from 'node:path';
import { IPXE_BUILD_MANIFEST_FILE } from './manifest.ts';

/**
 * Calls onChange when data/ipxe/manifest.json appears, changes or goes away. A build writes the manifest
 * last, after its binaries, so this is the moment a running server should look at the folder again.
 * It polls with stat (1 s by default): that works before the folder exists and costs one stat a second.
 */
export function watchIpxeManifest(ipxeDir: string, onChange: () => void, intervalMs = 1000): () => void {
  const file = join(ipxeDir, IPXE_BUILD_MANIFEST_FILE);
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino) onChange();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}
