// Finds the release of recipes whose projects publish a release index or checksum files of their own (Fedora's
// releases.json, SystemRescue's per-release .sha256, GParted's and Clonezilla's stable CHECKSUMS.TXT): the digest
// always comes from that file, never from the response that carries the archive.
import type { ReleaseDiscovery } from '../../config/recipes.ts';
import { redactUrl } from '../../config/redact-url.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';
import { MAX_FEDORA_INDEX_BYTES, parseFedoraReleases, pickFedoraIso } from './fedora-releases.ts';
import { checksumVerifiedOver, releaseNotFound, type FetchIndex, type ReleaseRequest, type ResolvedRelease } from './release-request.ts';
import { MAX_CHECKSUMS_TXT_BYTES, MAX_SIDECAR_BYTES, RELEASE_NUMBER, sidecarSha256, stableRelease } from './release-checksums.ts';

type Fedora = Extract<ReleaseDiscovery, { kind: 'fedora-json' }>;
type ReleaseSums = Extract<ReleaseDiscovery, { kind: 'release-sums' }>;
type DrblStable = Extract<ReleaseDiscovery, { kind: 'drbl-stable' }>;

/**
 * Where the project's index is: its own site (`index`) for the recipe's download site; on a mirror, the same path below
 * the mirror (a mirror copies the project's checksum files with its downloads).
 */
export function indexUrlOn(wanted: ReleaseRequest, discovery: { mirror: string }, index: string): string {
  return wanted.mirror === discovery.mirror ? index : wanted.mirror + new URL(index).pathname.slice(1);
}

/** Fedora: latest is the highest release in releases.json with the edition's live ISO, a number that release. */
export async function resolveFedora(wanted: ReleaseRequest, discovery: Fedora, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  if (wanted.version !== 'latest' && !/^\d{1,4}$/.test(wanted.version)) throw releaseNotFound(wanted, 'is not a Fedora release (latest or a number such as 43)');
  const indexUrl = indexUrlOn(wanted, discovery, discovery.index);
  const where = redactUrl(indexUrl);
  const bytes = await fetchIndex(indexUrl, MAX_FEDORA_INDEX_BYTES);
  if (!bytes) throw releaseNotFound(wanted, `has no index on the mirror (${where} does not exist)`);
  const iso = pickFedoraIso(parseFedoraReleases(Buffer.from(bytes).toString('utf8'), where), discovery, wanted.version, where);
  if (!iso) throw releaseNotFound(wanted, `has no ${discovery.subvariant} live ISO for ${discovery.arch} in ${where} (it lists the supported releases only)`);
  // The link must lie below the download site, whose path a mirror keeps: a lying index cannot send the download
  // elsewhere, and an image's mirror serves the same file.
  if (!iso.link.startsWith(discovery.mirror)) throw new IngestError(IngestErrorCode.ReleaseIndex, `the Fedora release index ${where} links the ISO of Fedora ${iso.version} outside ${discovery.mirror}; check the mirror`);
  return { version: iso.version, url: wanted.mirror + iso.link.slice(discovery.mirror.length), digest: { algorithm: 'sha256', value: iso.sha256 }, verifiedBy: checksumVerifiedOver(indexUrl), indexUrl: where };
}

/** One checksum file per release (SystemRescue): a pinned release number only, as the project lists no releases. */
export async function resolveReleaseSums(wanted: ReleaseRequest, discovery: ReleaseSums, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  if (!RELEASE_NUMBER.test(wanted.version)) {
    throw releaseNotFound(wanted, `is not a release number such as ${discovery.example}: this recipe finds pinned releases only, as the project publishes no list of its releases`);
  }
  const archive = discovery.archive.replaceAll('{version}', wanted.version);
  const file = archive.slice(archive.lastIndexOf('/') + 1);
  const sumsUrl = indexUrlOn(wanted, discovery, discovery.index.replaceAll('{version}', wanted.version));
  const where = redactUrl(sumsUrl);
  const sums = await fetchIndex(sumsUrl, MAX_SIDECAR_BYTES);
  if (!sums) throw releaseNotFound(wanted, `is not on the site (${where} does not exist)`);
  const sha256 = sidecarSha256(Buffer.from(sums).toString('utf8'), file, where);
  return { version: wanted.version, url: wanted.mirror + archive, digest: { algorithm: 'sha256', value: sha256 }, verifiedBy: checksumVerifiedOver(sumsUrl), indexUrl: where };
}

/** The stable CHECKSUMS.TXT of a DRBL project (GParted, Clonezilla): latest, or its release number, is the release it names. */
export async function resolveDrblStable(wanted: ReleaseRequest, discovery: DrblStable, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  if (wanted.version !== 'latest' && !RELEASE_NUMBER.test(wanted.version)) throw releaseNotFound(wanted, `is not latest or a release number such as ${discovery.example}`);
  const indexUrl = indexUrlOn(wanted, discovery, discovery.index);
  const where = redactUrl(indexUrl);
  const list = await fetchIndex(indexUrl, MAX_CHECKSUMS_TXT_BYTES);
  if (!list) throw releaseNotFound(wanted, `has no checksum list on the site (${where} does not exist)`);
  const template = discovery.archive.slice(discovery.archive.lastIndexOf('/') + 1);
  const [prefix, suffix] = template.split('{version}') as [string, string];
  const stable = stableRelease(Buffer.from(list).toString('utf8'), prefix, suffix, where);
  if (wanted.version !== 'latest' && wanted.version !== stable.version) {
    throw releaseNotFound(wanted, `is not the stable release that ${where} gives checksums for (${stable.version}); for an older release give the image source: with its sha256`);
  }
  const url = wanted.mirror + discovery.archive.replaceAll('{version}', stable.version);
  return { version: stable.version, url, digest: { algorithm: 'sha256', value: stable.sha256 }, verifiedBy: checksumVerifiedOver(indexUrl), indexUrl: where };
}
