// Ingests one image: resolve the expected checksum, skip when the installed manifest already matches,
// fetch and verify the archive, extract into a staging folder, then switch the served folder atomically.
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, link, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Got } from 'got';
import { bootFilesOf, type ImageConfig, type IngestSpec, type ReleaseRequestConfig } from '../config/model.ts';
import { RECIPES, type Recipe } from '../config/recipes.ts';
import { archiveFileName } from '../config/archive-name.ts';
import { redactUrl } from '../config/redact-url.ts';
import { openForReading } from '../files/boot-files.ts';
import { dataLayout, imageLayout, type ImageLayout } from '../files/data-dir.ts';
import { openArchive, type ArchiveSource, type ArchiveTools } from './archives.ts';
import { findListedDigest, pathBelowList, type Digest } from './checksum-list.ts';
import { rethrowAsDiskFull } from './disk-space.ts';
import { DEFAULT_TIMEOUTS, downloadToCache, type DownloadTimeouts, type ProgressSink } from './download.ts';
import { failureError } from './download-failure.ts';
import { extractArchive } from './extract.ts';
import { openHttpRangeSource } from './http-range-source.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { cleanLeftovers, commitStaging, createStaging, lockImage, pinDeclines, readInstalledManifest, readPin, recordFailure } from './install.ts';
import type { IngestFingerprint, ImageManifest } from './manifest.ts';
import { planIngest, type ArchiveFetch, type IngestState } from './plan.ts';
import { httpIndexFetcher } from './releases/fetch-index.ts';
import type { ResolvedRelease } from './releases/release-request.ts';
import { resolveRelease } from './releases/resolve-release.ts';

/** What ingest needs from the outside world; tests pass their own HTTP client, clock, and retry timing. */
export interface IngestContext {
  dataDir: string;
  http: Got;
  info: (message: string) => void;
  warn: (message: string) => void;
  /** A progress sink for one image's download. */
  progress?: (id: string) => ProgressSink;
  now?: () => Date;
  force?: boolean;
  timeouts?: DownloadTimeouts;
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  tools?: ArchiveTools;
  /** Versions kept before the serving one (ingest.keep_versions); default DEFAULT_KEEP_VERSIONS. */
  keepVersions?: number;
  /** The automatic runner's ingests: a release a rollback switched away from is not installed again (see rollbackImage). */
  respectPin?: boolean;
  /**
   * Aborted when the server shuts down: every request, the wait before a retry, the hashing of a local archive and
   * the extraction stop, the staging folder is removed, nothing is installed, and the ingest rejects with the
   * signal's reason (an AbortError), which is not recorded as the image's failure.
   */
  signal?: AbortSignal;
}

/** What happened to one image. */
export type IngestOutcome =
  | { status: 'installed'; manifest: ImageManifest }
  | { status: 'up-to-date'; manifest: ImageManifest }
  /** respectPin: the changed release is the one a rollback switched away from; the pinned version keeps serving. */
  | { status: 'pinned'; manifest: ImageManifest };

/** Ingests `image` (which must have an ingest spec) and returns what happened; failures are IngestErrors and leave the installed version serving. */
export async function ingestImage(image: ImageConfig, context: IngestContext): Promise<IngestOutcome> {
  const spec = image.ingest;
  if (!spec) throw new Error(`image ${image.id} has no url or path source`);
  const now = context.now ?? (() => new Date());
  const layout = imageLayout(context.dataDir, image.id);
  const release = await lockImage(layout);
  try {
    const removed = await cleanLeftovers(layout, context.keepVersions);
    if (removed.length > 0) context.info(`removed leftovers of an interrupted ingest: ${removed.join(', ')}`);
    return await ingestLocked(image, spec, layout, context, now);
  } catch (error) {
    // Stopped by a shutdown: not the image's failure, whatever step it cut (a reader may have wrapped the abort).
    context.signal?.throwIfAborted();
    // Best effort: on a full disk the record cannot be written either, and the error itself must get through.
    await recordFailure(layout, now(), error as Error).catch(() => undefined);
    throw error;
  } finally {
    await release();
  }
}

async function ingestLocked(image: ImageConfig, configured: IngestSpec, layout: ImageLayout, context: IngestContext, now: () => Date): Promise<IngestOutcome> {
  // A recipe that finds its release: the signed or listed index gives the archive and its digest before anything is
  // downloaded; from here on the image is what a source: naming that archive and digest would be.
  const release = configured.release ? await findRelease(configured.release, context) : undefined;
  const spec: IngestSpec = release ? { ...configured, from: { kind: 'url', url: release.url, fetch: 'all' } } : configured;
  if (spec.insecure && !spec.checksum) {
    context.warn(`the source of ${image.id} is not verified (insecure: true): whatever ${spec.from.kind === 'url' ? redactUrl(spec.from.url) : spec.from.path} holds gets installed; add sha256 or checksums to its source`);
  }
  const expected = release ? release.digest : await expectedDigest(spec, context);
  const state = await readIngestState(image, spec, layout, { sourceMustBeReadable: true });
  const plan = planIngest(image, spec, state, { force: context.force === true, expected });
  if (plan.decision.kind === 'up-to-date' && state.installed) return { status: 'up-to-date', manifest: state.installed };
  if (context.respectPin && state.installed && plan.decision.kind === 'install' && plan.decision.why === 'changed' && pinDeclines(await readPin(layout), plan.fingerprint)) {
    return { status: 'pinned', manifest: state.installed };
  }
  // The digest is known here (or there is none), so the plan has the fingerprint.
  const fingerprint = plan.fingerprint!;

  const fetched = await fetchArchive(image, spec, plan.fetch, expected, context);
  const staging = await createStaging(layout, now());
  try {
    const reader = await openArchive(fetched.source, context.tools, context.warn);
    context.info(`extracting from ${fetched.source.name} (${reader.type})`);
    const result = await extractArchive(
      reader,
      staging.dir,
      {
        archiveName: fetched.source.name,
        extract: spec.extract,
        renames: spec.renames ?? {},
        required: bootFilesOf(image),
        image: image.id,
        diskFolder: layout.imagesDir,
        ...(spec.maxExtractedBytes !== undefined ? { maxExtractedBytes: spec.maxExtractedBytes } : {}),
        ...(context.signal ? { signal: context.signal } : {}),
      },
      context.warn,
      context.progress?.(image.id),
    );
    const files = [...result.files];
    if (spec.keepArchiveAs) {
      if (!fetched.localPath) throw new Error('a kept archive needs the whole file');
      await linkOrCopy(fetched.localPath, join(staging.dir, spec.keepArchiveAs));
      files.push({ path: spec.keepArchiveAs, size: fetched.source.random.size, sha256: fetched.sha256 ?? (await sha256File(fetched.localPath)) });
    }
    const manifest = buildImageManifest(image, spec, fingerprint, fetched, reader.type, files, now(), release);
    // An ingest stopped by a shutdown installs nothing, however far it got.
    context.signal?.throwIfAborted();
    await commitStaging(layout, staging, manifest, context.keepVersions);
    context.info(`installed ${files.length} files; ${describeVerification(manifest)}`);
    if (spec.from.kind === 'url') await pruneCache(dataLayout(context.dataDir).cache, image.id, fetched.cacheFile);
    return { status: 'installed', manifest };
  } catch (error) {
    await rm(staging.dir, { recursive: true, force: true });
    // Extraction and download say "disk full" themselves; this covers the manifest and the kept archive.
    return await rethrowAsDiskFull(error, { where: layout.imagesDir, what: image.id, needed: fetched.source.random.size, atLeast: true });
  } finally {
    await fetched.close();
  }
}

/** The release `request` names, found and its digest verified on the recipe's site (or the image's mirror). */
async function findRelease(request: ReleaseRequestConfig, context: IngestContext): Promise<ResolvedRelease> {
  const discovery = (RECIPES as Record<string, Recipe>)[request.recipe]?.releases;
  if (!discovery) throw new Error(`recipe ${request.recipe} does not find releases`);
  const found = await resolveRelease(
    { discovery, version: request.version, mirror: request.mirror, ...(request.keyring ? { keyring: request.keyring } : {}) },
    httpIndexFetcher(context.http, {
      ...(context.timeouts ? { timeouts: context.timeouts } : {}),
      ...(context.retries !== undefined ? { retries: context.retries } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    }),
  );
  context.info(`version: ${request.version} is ${found.version}: ${redactUrl(found.url)} (${found.verifiedBy === 'signature' ? 'digest from a signed Release' : `digest from ${found.indexUrl}`})`);
  return found;
}

/** The digest the archive must have: from images.yaml, or looked up in the checksum list. */
async function expectedDigest(spec: IngestSpec, context: IngestContext): Promise<Digest | undefined> {
  const checksum = spec.checksum;
  if (!checksum) return undefined;
  if ('algorithm' in checksum) return { algorithm: checksum.algorithm, value: checksum.value };
  const timeouts = context.timeouts ?? DEFAULT_TIMEOUTS;
  const response = await context.http
    .get(checksum.listUrl, {
      throwHttpErrors: false,
      retry: { limit: context.retries ?? 3 },
      timeout: { lookup: timeouts.connect, connect: timeouts.connect, response: timeouts.response, socket: timeouts.idle },
      ...(context.signal ? { signal: context.signal } : {}),
    })
    .catch((error: { code?: string }) => {
      context.signal?.throwIfAborted();
      throw failureError({ url: checksum.listUrl, code: error.code ?? 'unknown' }, 1);
    });
  if (response.statusCode >= 400) throw failureError({ url: checksum.listUrl, status: response.statusCode, statusMessage: response.statusMessage }, 1);
  const name = archiveFileName(spec.from);
  const digest = findListedDigest(response.body, name, spec.from.kind === 'url' ? pathBelowList(spec.from.url, checksum.listUrl) : undefined);
  if (!digest) {
    throw new IngestError(IngestErrorCode.ChecksumNotListed, `the checksum list ${redactUrl(checksum.listUrl)} does not name ${name}; check source.checksums in images.yaml (it must be the list published next to the archive)`);
  }
  return digest;
}

/**
 * What is on disk for `image`: the installed manifest, whether its boot files are there, and a path source's size and
 * time; an unreadable path source is an IngestError with sourceMustBeReadable (the ingest), else undefined (--dry-run).
 */
export async function readIngestState(image: ImageConfig, spec: IngestSpec, layout: ImageLayout, options: { sourceMustBeReadable: boolean }): Promise<IngestState> {
  const local = spec.from.kind !== 'path' ? undefined : options.sourceMustBeReadable ? await statSource(spec.from.path) : await statSource(spec.from.path).catch(() => undefined);
  return { installed: await readInstalledManifest(layout), local, bootFilesPresent: await bootFilesPresent(layout, image) };
}

async function statSource(path: string): Promise<{ size: number; mtimeMs: number }> {
  try {
    const stats = await stat(path);
    if (!stats.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    return { size: stats.size, mtimeMs: Math.floor(stats.mtimeMs) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new IngestError(IngestErrorCode.SourceUnreadable, `the archive ${path} cannot be read (${code}); check source.path in images.yaml and the file's permissions`);
  }
}

async function bootFilesPresent(layout: ImageLayout, image: ImageConfig): Promise<boolean> {
  const present = await Promise.all(bootFilesOf(image).map((file) => stat(join(layout.link, file)).then((s) => s.isFile(), () => false)));
  return present.every(Boolean);
}

// Where the expected digest came from decides what a mismatch tells the user to check: a recipe's release index
// (its own checks passed, so the mirror serves another archive than the index names) or a checksum list; a digest
// in images.yaml gets downloadToCache's own advice.
function mismatchFix(spec: IngestSpec): string | undefined {
  if (spec.release) return 'the mirror serves another archive than its verified index names (stale or tampered with); check the mirror, or wait until it has finished syncing';
  if (spec.checksum && 'listUrl' in spec.checksum) return `check the checksum list ${redactUrl(spec.checksum.listUrl)} and the mirror`;
  return undefined;
}

interface FetchedArchive {
  source: ArchiveSource;
  /** The whole archive on local disk (absent for `fetch: files` read by Range requests). */
  localPath: string | undefined;
  cacheFile: string | undefined;
  sha256: string | undefined;
  /** The digest matched `expected`. */
  verified: boolean;
  unverifiedReason?: string;
  close: () => Promise<void>;
}

async function fetchArchive(image: ImageConfig, spec: IngestSpec, fetch: ArchiveFetch, expected: Digest | undefined, context: IngestContext): Promise<FetchedArchive> {
  const name = archiveFileName(spec.from);
  if (fetch.kind === 'read-file') {
    let sha256: string | undefined;
    if (expected) {
      context.info(`checking ${fetch.path} against its ${expected.algorithm}`);
      const digests = await hashFile(fetch.path, expected.algorithm, context.progress?.(image.id), context.signal);
      if (digests.expected !== expected.value) {
        throw new IngestError(
          IngestErrorCode.ChecksumMismatch,
          `${fetch.path} has ${expected.algorithm} ${digests.expected}, but ${expected.value} was expected; nothing was installed — check the checksum in images.yaml or replace the file`,
        );
      }
      sha256 = digests.sha256;
    }
    return localArchive(fetch.path, name, undefined, sha256, expected !== undefined, expected ? undefined : 'a local file without a checksum');
  }
  // Logs show the URL without its userinfo and query, which may hold credentials.
  const shown = redactUrl(fetch.url);
  if (fetch.kind === 'read-ranges') {
    const remote = await openHttpRangeSource(context.http, fetch.url, context.timeouts);
    if (remote) {
      const reader = await openArchive({ name, random: remote }, context.tools).catch(() => undefined);
      if (reader && (reader.type === 'iso9660' || reader.type === 'zip')) {
        context.info(`reading only the wanted files of ${shown} with Range requests (fetch: files); the archive's checksum cannot be verified this way`);
        return {
          source: { name, random: remote },
          localPath: undefined,
          cacheFile: undefined,
          sha256: undefined,
          verified: false,
          unverifiedReason: 'fetch: files reads single files with Range requests, so the archive checksum was not checked',
          close: async () => {},
        };
      }
      context.info(`${shown} is not an ISO or zip, which fetch: files needs; downloading it whole`);
    } else context.info(`the server of ${shown} does not support Range requests, which fetch: files needs; downloading it whole`);
  } else if (spec.from.kind === 'url' && spec.from.fetch === 'files') {
    context.info(`${image.id} keeps the whole archive as ${spec.keepArchiveAs}, so it is downloaded whole despite fetch: files`);
  }
  const download = fetch.kind === 'read-ranges' ? fetch.fallback : fetch;
  context.info(`downloading ${shown}`);
  const fix = mismatchFix(spec);
  const downloaded = await downloadToCache({
    http: context.http,
    url: download.url,
    cacheDir: dataLayout(context.dataDir).cache,
    fileName: download.cacheFile,
    ...(expected ? { expected } : {}),
    ...(fix ? { mismatchFix: fix } : {}),
    ...(context.timeouts ? { timeouts: context.timeouts } : {}),
    ...(context.retries !== undefined ? { retries: context.retries } : {}),
    ...(context.sleep ? { sleep: context.sleep } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
    ...(context.progress ? { progress: context.progress(image.id) } : {}),
    what: image.id,
    reuse: download.reuseCache,
    log: context.info,
  });
  if (downloaded.reused) context.info(`using the verified copy in ${downloaded.path}`);
  return localArchive(downloaded.path, name, download.cacheFile, downloaded.sha256, expected !== undefined, expected ? undefined : 'insecure: true (no checksum given)');
}

async function localArchive(path: string, name: string, cacheFile: string | undefined, sha256: string | undefined, verified: boolean, unverifiedReason: string | undefined): Promise<FetchedArchive> {
  let opened;
  try {
    opened = await openForReading(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new IngestError(IngestErrorCode.SourceUnreadable, `the archive ${path} cannot be read (${code}); check source.path in images.yaml and the file's permissions`);
  }
  const file = opened;
  return {
    source: { name, random: file, stream: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) },
    localPath: path,
    cacheFile,
    sha256,
    verified,
    ...(unverifiedReason ? { unverifiedReason } : {}),
    close: () => file.close(),
  };
}

async function hashFile(path: string, algorithm: Digest['algorithm'], progress?: ProgressSink, signal?: AbortSignal): Promise<{ sha256: string; expected: string }> {
  const sha256 = createHash('sha256');
  const other = algorithm === 'sha256' ? undefined : createHash(algorithm);
  try {
    const total = (await stat(path)).size;
    const started = Date.now();
    let received = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      // A local ISO of gigabytes takes seconds to hash.
      signal?.throwIfAborted();
      sha256.update(chunk as Buffer);
      other?.update(chunk as Buffer);
      received += (chunk as Buffer).length;
      progress?.update({ received, total, resumedFrom: 0, elapsedMs: Date.now() - started });
    }
    progress?.done();
  } catch (error) {
    signal?.throwIfAborted();
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new IngestError(IngestErrorCode.SourceUnreadable, `the archive ${path} cannot be read (${code}); check source.path in images.yaml and the file's permissions`);
  }
  const hex = sha256.digest('hex');
  return { sha256: hex, expected: other ? other.digest('hex') : hex };
}

async function sha256File(path: string): Promise<string> {
  return (await hashFile(path, 'sha256')).sha256;
}

// The cache and data/images share the data directory, so a hard link costs no space; copy across devices.
// Neither follows a link at `to` or writes over anything there (link() never does; COPYFILE_EXCL).
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error;
    await copyFile(from, to, constants.COPYFILE_EXCL);
  }
}

function buildImageManifest(
  image: ImageConfig,
  spec: IngestSpec,
  fingerprint: IngestFingerprint,
  fetched: FetchedArchive,
  type: string,
  files: ImageManifest['files'],
  at: Date,
  release: ResolvedRelease | undefined,
): ImageManifest {
  const checksum = spec.checksum;
  return {
    format: 1,
    id: image.id,
    fingerprint,
    checksumSource: release ? { listUrl: release.indexUrl } : !checksum ? 'none' : 'listUrl' in checksum ? { listUrl: redactUrl(checksum.listUrl) } : 'config',
    archiveVerified: fetched.verified,
    ...(fetched.unverifiedReason && !fetched.verified ? { unverifiedReason: fetched.unverifiedReason } : {}),
    archive: { name: fetched.source.name, type, size: fetched.source.random.size, ...(fetched.sha256 ? { sha256: fetched.sha256 } : {}) },
    ...(spec.recipe ? { recipe: spec.recipe } : {}),
    ...(spec.version ? { version: spec.version } : {}),
    ...(release ? { release: { version: release.version, url: redactUrl(release.url), verifiedBy: release.verifiedBy, index: release.indexUrl } } : {}),
    files,
    ingestedAt: at.toISOString(),
  };
}

/**
 * How the archive was verified, in plain words for logs, `bootstation images`, the API and the dashboard: the digest and
 * where it came from (images.yaml; a checksum list over HTTPS; over plain HTTP, which proves less), or why it was not.
 */
export function describeVerification(manifest: ImageManifest): string {
  if (!manifest.archiveVerified) return `archive NOT verified: ${manifest.unverifiedReason ?? 'no checksum'}`;
  if (manifest.release?.verifiedBy === 'signature') {
    const list = /\/Packages(\.gz)?$/.test(manifest.release.index) ? 'a Packages index' : 'a SHA256SUMS';
    return `archive verified (sha256 from ${list} whose digest a signed Release gives, ${manifest.release.index})`;
  }
  const algorithm = manifest.fingerprint.checksum?.split(':')[0] ?? 'checksum';
  const source = manifest.checksumSource;
  if (typeof source !== 'object') return `archive verified (${algorithm} from images.yaml)`;
  const list = new URL(source.listUrl);
  return list.protocol === 'https:'
    ? `archive verified (${algorithm} from ${list.host} over HTTPS)`
    : `archive verified (${algorithm} from ${list.host} over plain HTTP, which anyone on the way could change)`;
}

// Keeps one download per image in the cache: the one just installed.
async function pruneCache(cacheDir: string, id: string, keep: string | undefined): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    // The hash after the id keeps image "a" off the files of image "a--b".
    if (!new RegExp(`^${id}--[0-9a-f]{12}--`).test(name)) continue;
    if (keep !== undefined && (name === keep || name === `${keep}.json`)) continue;
    await rm(join(cacheDir, name), { force: true });
  }
}
