// What every release resolver takes and gives (the request, the release found, the index fetcher) and the two
// verdicts they share, so that each distro's resolver is a module of its own without an import cycle.
import type { ReleaseDiscovery } from '../../config/recipes.ts';
import type { Digest } from '../checksum-list.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';
import type { Verification } from '../manifest.ts';

/** What an image asks for: its recipe's discovery, `version:`, the mirror to use and an optional keyring of its own. */
export interface ReleaseRequest {
  discovery: ReleaseDiscovery;
  version: string;
  /** The site's base URL, ending in "/". */
  mirror: string;
  keyring?: string;
}

/** A release found and its digest verified: what ingest downloads and checks the archive against. */
export interface ResolvedRelease {
  version: string;
  url: string;
  digest: Digest;
  verifiedBy: Extract<Verification, 'signature' | 'checksum-https' | 'checksum-http'>;
  /** The index the digest came from (redacted). */
  indexUrl: string;
}

/** Fetches a small index: its bytes, or undefined for 404/410; at most maxBytes, else an IngestError. */
export type FetchIndex = (url: string, maxBytes: number) => Promise<Uint8Array | undefined>;

/** How a digest read from the index at `url` is verified: by the transport it came over. */
export function checksumVerifiedOver(url: string): 'checksum-https' | 'checksum-http' {
  return url.startsWith('https:') ? 'checksum-https' : 'checksum-http';
}

/** The error for a `version:` the site does not have, `what` saying why. */
export function releaseNotFound(request: Pick<ReleaseRequest, 'version'>, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseNotFound, `version: ${request.version.slice(0, 40)} ${what}; check the image's version: in images.yaml`);
}
