import { join } from 'node:path';
import type { Got } from 'got';
import { downloadToCache } from '../ingest/download.ts';
import type { IpxeSource } from './build.ts';
import { pinnedDigest, type IpxePin } from './pin.ts';

/**
 * Downloads the pinned iPXE tarball into <data>/cache/ipxe (or reuses the verified copy there) and checks
 * it against the pin's SHA-256; a pin without a digest is refused before any request.
 */
export async function fetchPinnedSource(options: { pin: IpxePin; pinFile?: string; dataDir: string; http: Got; log: (line: string) => void }): Promise<IpxeSource> {
  const { pin } = options;
  const digest = pinnedDigest(pin, options.pinFile);
  const downloaded = await downloadToCache({
    http: options.http,
    url: pin.url,
    cacheDir: join(options.dataDir, 'cache', 'ipxe'),
    fileName: `ipxe-${pin.version}.tar.gz`,
    expected: { algorithm: 'sha256', value: digest },
    retries: 2,
    log: options.log,
  });
  options.log(downloaded.reused ? `using the verified iPXE ${pin.version} tarball in ${downloaded.path}` : `downloaded and verified iPXE ${pin.version} (${downloaded.path})`);
  return { path: downloaded.path, kind: 'tarball' };
}
