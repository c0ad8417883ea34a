// .manifest.json of an ingested image, the image manifest: what was installed from where, and whether it needs
// doing again. Pure. (data/ipxe/manifest.json is the iPXE build's: src/ipxe/manifest.ts.)
import type { IngestSpec } from '../config/model.ts';
import { redactUrl } from '../config/redact-url.ts';
import { parseJsonObject } from '../files/json-object.ts';
import type { Digest } from './checksum-list.ts';

/** The manifest's file name inside the image folder. */
export const IMAGE_MANIFEST_FILE = '.manifest.json';

/** One installed file. */
export interface ImageManifestFile {
  path: string;
  size: number;
  sha256: string;
}

/** What decides whether an image must be ingested again: the same fingerprint means the same files. */
export interface IngestFingerprint {
  /** The local path, or the URL without its userinfo and query (they may hold credentials, and the manifest is served). */
  source: string;
  fetch: 'all' | 'files' | 'local';
  /** The digest the archive must have ("sha256:…"), or null for insecure sources and unchecked local files. */
  checksum: string | null;
  /** For local archives without a checksum: size and modification time stand in for the digest. */
  localFile: { size: number; mtimeMs: number } | null;
  extract: string[];
  /** target → glob, or the list of globs (see Recipe.renames). */
  renames: Record<string, string | readonly string[]>;
  keepArchiveAs: string | null;
}

/** The whole manifest as written to disk. */
export interface ImageManifest {
  format: 1;
  id: string;
  fingerprint: IngestFingerprint;
  /** Where the expected digest came from: images.yaml, a checksum list (its URL), or nowhere. */
  checksumSource: 'config' | { listUrl: string } | 'none';
  /** Whether the whole archive was hashed and matched; false for insecure sources and `fetch: files`. */
  archiveVerified: boolean;
  /** Why archiveVerified is false, in words, for `bootstation images` and people reading the file. */
  unverifiedReason?: string;
  archive: { name: string; type: string; size: number; sha256?: string };
  recipe?: string;
  version?: string;
  /** The release a recipe found (recipe: and version: without source:): which, where, and how its digest was verified. */
  release?: { version: string; url: string; verifiedBy: Verification; index: string };
  files: ImageManifestFile[];
  ingestedAt: string;
}

/**
 * How an archive was verified: 'signature' (a signed index chain), 'checksum-config' (a digest in images.yaml),
 * 'checksum-https' / 'checksum-http' (a checksum list fetched over that), or 'insecure' (not at all).
 */
export type Verification = 'signature' | 'checksum-config' | 'checksum-https' | 'checksum-http' | 'insecure';

/** How the installed archive of `manifest` was verified (the status field `verifiedBy` of the API and `bootstation images`). */
export function verificationOf(manifest: ImageManifest): Verification {
  if (!manifest.archiveVerified) return 'insecure';
  if (manifest.release) return manifest.release.verifiedBy;
  const source = manifest.checksumSource;
  if (typeof source !== 'object') return source === 'config' ? 'checksum-config' : 'insecure';
  return source.listUrl.startsWith('https:') ? 'checksum-https' : 'checksum-http';
}

/** The fingerprint of an image's ingest spec, given the expected digest and (for local sources without one) the file's stats. */
export function fingerprintOf(spec: IngestSpec, expected: Digest | undefined, localFile?: { size: number; mtimeMs: number }): IngestFingerprint {
  return {
    source: spec.from.kind === 'url' ? redactUrl(spec.from.url) : spec.from.path,
    fetch: spec.from.kind === 'url' ? spec.from.fetch : 'local',
    checksum: expected ? `${expected.algorithm}:${expected.value}` : null,
    localFile: expected === undefined && localFile ? { size: localFile.size, mtimeMs: localFile.mtimeMs } : null,
    extract: [...spec.extract].sort(),
    renames: Object.fromEntries(Object.entries(spec.renames ?? {}).sort(([a], [b]) => a.localeCompare(b))),
    keepArchiveAs: spec.keepArchiveAs ?? null,
  };
}

/** Whether an installed manifest already holds what the fingerprint asks for. */
export function isUpToDate(manifest: ImageManifest | undefined, fingerprint: IngestFingerprint): boolean {
  return manifest !== undefined && sameFingerprint(manifest.fingerprint, fingerprint);
}

/** Whether two fingerprints ask for the same files (key order does not matter). */
export function sameFingerprint(a: IngestFingerprint, b: IngestFingerprint): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Reads manifest JSON text; undefined when it is not a manifest this version wrote (then the image is ingested again). */
export function parseImageManifest(text: string): ImageManifest | undefined {
  const manifest = parseJsonObject(text) as Partial<ImageManifest> | undefined;
  if (manifest === undefined) return undefined;
  if (manifest.format !== 1 || typeof manifest.id !== 'string' || !Array.isArray(manifest.files) || typeof manifest.fingerprint !== 'object') {
    return undefined;
  }
  return manifest as ImageManifest;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}
