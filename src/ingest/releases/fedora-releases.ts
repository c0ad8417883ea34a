// Fedora's release index (fedoraproject.org/releases.json, what Fedora Media Writer reads): which ISO a release has. Pure.
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** One image of the index: a JSON object with these string fields (size, a string of digits, is not used). */
export interface FedoraImage {
  version: string;
  arch: string;
  variant: string;
  subvariant: string;
  link: string;
  sha256: string | undefined;
}

/** What a recipe takes from the index: the edition's live ISO of one architecture. */
export interface FedoraEdition {
  arch: string;
  variant: string;
  subvariant: string;
}

/** The real index lists every edition, spin and architecture of the supported releases and the beta: about 100 KB. */
export const MAX_FEDORA_INDEX_BYTES = 2 * 1024 * 1024;
const MAX_IMAGES = 20_000;

/** Every entry of a releases.json text with the string fields an image has (others are skipped); `where` names the file in errors. */
export function parseFedoraReleases(text: string, where: string): FedoraImage[] {
  if (text.length > MAX_FEDORA_INDEX_BYTES) throw bad(where, `is larger than ${MAX_FEDORA_INDEX_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad(where, 'is not JSON');
  }
  // Fedora Media Writer and fedoraproject.org read it as a top-level array of images.
  if (!Array.isArray(parsed)) throw bad(where, 'is not a list of images');
  if (parsed.length > MAX_IMAGES) throw bad(where, `lists more than ${MAX_IMAGES} images`);
  const images: FedoraImage[] = [];
  for (const entry of parsed as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { version, arch, variant, subvariant, link, sha256 } = entry as Record<string, unknown>;
    if (typeof version !== 'string' || typeof arch !== 'string' || typeof variant !== 'string' || typeof subvariant !== 'string' || typeof link !== 'string') continue;
    images.push({ version, arch, variant, subvariant, link, sha256: typeof sha256 === 'string' ? sha256 : undefined });
  }
  return images;
}

/**
 * The live ISO of `edition` for `wanted`: `latest` is the highest release (a plain number: "44 Beta" and "Rawhide" are
 * not releases) that has one; a number is that release. Undefined when the index has none; an IngestError when the
 * entry is malformed or the index names two different ISOs for one release.
 */
export function pickFedoraIso(images: readonly FedoraImage[], edition: FedoraEdition, wanted: string, where: string): { version: string; link: string; sha256: string } | undefined {
  // Live ISOs are named Fedora-<subvariant>-Live-<version>-<respin>.<arch>.iso (42 and later) or
  // Fedora-<subvariant>-Live-<arch>-<version>-<respin>.iso (41 and older).
  const live = `Fedora-${edition.subvariant}-Live-`;
  const candidates = images.filter(
    (image) => image.arch === edition.arch && image.variant === edition.variant && image.subvariant === edition.subvariant && /^\d{1,4}$/.test(image.version) && fileName(image.link).startsWith(live) && image.link.endsWith('.iso'),
  );
  const version = wanted === 'latest' ? String(Math.max(...candidates.map((image) => Number(image.version)))) : wanted;
  const chosen = candidates.filter((image) => image.version === version);
  if (chosen.length === 0) return undefined;
  const [first] = chosen;
  if (chosen.some((image) => image.link !== first!.link || image.sha256?.toLowerCase() !== first!.sha256?.toLowerCase())) throw bad(where, `lists several different ${edition.subvariant} ISOs for Fedora ${version}`);
  if (first!.sha256 === undefined || !/^[0-9a-f]{64}$/i.test(first!.sha256)) throw bad(where, `gives no sha256 for the ${edition.subvariant} ISO of Fedora ${version}`);
  // Fedora's links are plain paths: no "..", no percent-escapes (%2e%2e is ".." to a URL parser), no query.
  if (!/^[A-Za-z0-9._+-]{1,200}$/.test(fileName(first!.link)) || first!.link.includes('..') || !/^https?:\/\/[^\s/\\?#@%]+\/[^\s\\?#%]*$/.test(first!.link)) {
    throw bad(where, `gives a malformed link for the ${edition.subvariant} ISO of Fedora ${version}`);
  }
  return { version, link: first!.link, sha256: first!.sha256.toLowerCase() };
}

function fileName(link: string): string {
  return link.slice(link.lastIndexOf('/') + 1);
}

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the Fedora release index ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) serves Fedora's releases.json`);
}
