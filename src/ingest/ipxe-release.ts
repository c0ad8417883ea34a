// The pinned iPXE release, downloaded with ingest's downloader: the one HTTP download path of bootstation,
// so src/ipxe (which builds from any IpxeSource) never imports the ingest layer.
import type { Got } from 'got';
import { redactUrl, redactUrlsIn } from '../config/redact-url.ts';
import { dataLayout } from '../files/data-dir.ts';
import { IpxeBuildError, type IpxeSource } from '../ipxe/build.ts';
import type { IpxePin } from '../ipxe/pin.ts';
import { downloadToCache } from './download.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';

// Why a download failed, in the few words the one-sentence error has room for.
const REASONS: Partial<Record<IngestErrorCode, string>> = {
  [IngestErrorCode.Connection]: 'nothing answers there',
  [IngestErrorCode.Dns]: 'its host name does not resolve',
  [IngestErrorCode.Tls]: 'its TLS certificate is not trusted',
  [IngestErrorCode.NotFound]: 'the server has no such file',
  [IngestErrorCode.HttpStatus]: 'the server refused it',
  [IngestErrorCode.RetriesExhausted]: 'it failed again after retries',
  [IngestErrorCode.NoSpace]: 'the disk is full',
};

/**
 * Downloads the pinned iPXE release into <data>/cache/ipxe, from `mirror` when one is given, else from the
 * pin's URL. Nothing is trusted here: scripts/build-ipxe.sh --pin checks the tarball's tar stream digest
 * and pax-header commit before it compiles, the same check a local copy gets. Downloaded afresh each
 * time, so a bad copy never sticks; the file stays for an offline rebuild with --source.
 */
export async function fetchPinnedIpxeSource(options: { pin: IpxePin; mirror?: string; dataDir: string; http: Got; log: (line: string) => void }): Promise<IpxeSource> {
  const { pin } = options;
  const url = options.mirror ?? pin.url;
  const shown = redactUrl(url);
  options.log(`downloading iPXE ${pin.version} from ${shown}`);
  const downloaded = await downloadToCache({
    http: options.http,
    url,
    cacheDir: dataLayout(options.dataDir).ipxeSourceCache,
    fileName: `ipxe-${pin.version}.tar`,
    reuse: false,
    retries: 2,
    log: (line) => options.log(redactUrlsIn(line)),
  }).catch((error: unknown) => {
    const reason = error instanceof IngestError ? (REASONS[error.code] ?? error.code) : (error as Error).message;
    throw new IpxeBuildError(
      `the iPXE ${pin.version} source could not be downloaded from ${shown} (${reason}); check the address given with --mirror or the network, or download the release elsewhere and build with --source FILE`,
      { cause: error },
    );
  });
  options.log(`downloaded ${downloaded.path} (${downloaded.size} bytes); the build checks it against the pin before compiling`);
  return { path: downloaded.path, kind: 'tarball' };
}
