// What an ingest of one image does, decided from its configuration and what is already installed: the ingest
// follows this plan, and `bootstation ingest --dry-run` prints it.
import { createHash } from 'node:crypto';
import { archiveFileName } from '../config/archive-name.ts';
import type { ImageConfig, IngestSpec } from '../config/model.ts';
import type { Digest } from './checksum-list.ts';
import { fingerprintOf, isUpToDate, type ImageManifest, type IngestFingerprint } from './manifest.ts';

/** What is on disk for one image before an ingest. */
export interface IngestState {
  installed: ImageManifest | undefined;
  /** Size and mtime of a path source (what is compared when it has no checksum); undefined for url sources. */
  local: { size: number; mtimeMs: number } | undefined;
  /** Every boot file of the image is in its served folder. */
  bootFilesPresent: boolean;
}

/** A download of a url source into data/cache. */
export interface CacheDownload {
  kind: 'download';
  url: string;
  cacheFile: string;
  /** A complete copy in the cache is used again; without a checksum, --force fetches it again. */
  reuseCache: boolean;
}

/** How the archive is read. */
export type ArchiveFetch =
  | { kind: 'read-file'; path: string }
  /** fetch: files: only the wanted files, with Range requests; the download when the server or the archive cannot. */
  | { kind: 'read-ranges'; url: string; fallback: CacheDownload }
  | CacheDownload;

/** Whether the image is installed again. */
export type InstallDecision =
  | { kind: 'install'; why: 'not-ingested' | 'forced' | 'changed' | 'files-missing' }
  | { kind: 'up-to-date' }
  /** A checksums list names the digest: only after fetching it can the installed version be compared. */
  | { kind: 'compare-after-checksum-list' };

/** What an ingest of one image does. */
export interface IngestPlan {
  decision: InstallDecision;
  fetch: ArchiveFetch;
  /** What the installed manifest records; undefined while a checksums list has not been fetched. */
  fingerprint: IngestFingerprint | undefined;
}

/**
 * The plan for `image` given what is on disk: `expected` is the archive's digest when known (from images.yaml, or
 * from its checksums list once fetched), `force` ingests again even when nothing changed.
 */
export function planIngest(image: ImageConfig, spec: IngestSpec, state: IngestState, options: { force: boolean; expected: Digest | undefined }): IngestPlan {
  const listPending = spec.checksum !== undefined && !('algorithm' in spec.checksum) && options.expected === undefined;
  const fingerprint = listPending ? undefined : fingerprintOf(spec, options.expected, state.local);
  return { decision: decide(state, fingerprint, options.force), fetch: planFetch(image, spec, options.force), fingerprint };
}

function decide(state: IngestState, fingerprint: IngestFingerprint | undefined, force: boolean): InstallDecision {
  if (!state.installed) return { kind: 'install', why: 'not-ingested' };
  if (force) return { kind: 'install', why: 'forced' };
  if (!fingerprint) return { kind: 'compare-after-checksum-list' };
  if (!isUpToDate(state.installed, fingerprint)) return { kind: 'install', why: 'changed' };
  return state.bootFilesPresent ? { kind: 'up-to-date' } : { kind: 'install', why: 'files-missing' };
}

function planFetch(image: ImageConfig, spec: IngestSpec, force: boolean): ArchiveFetch {
  if (spec.from.kind === 'path') return { kind: 'read-file', path: spec.from.path };
  const url = spec.from.url;
  // Without a checksum nothing proves the cached copy is what the URL serves now: --force fetches it again.
  const download: CacheDownload = { kind: 'download', url, cacheFile: cacheFileName(image.id, url), reuseCache: spec.checksum !== undefined || !force };
  // A kept archive needs the whole file, so fetch: files downloads it whole then.
  return spec.from.fetch === 'files' && !spec.keepArchiveAs ? { kind: 'read-ranges', url, fallback: download } : download;
}

/** The cache file of a URL: the image id and a hash of the URL keep different downloads apart. */
export function cacheFileName(id: string, url: string): string {
  const name = archiveFileName({ kind: 'url', url, fetch: 'all' }).replace(/[^A-Za-z0-9._+-]/g, '_').slice(0, 100);
  return `${id}--${createHash('sha256').update(url).digest('hex').slice(0, 12)}--${name}`;
}
