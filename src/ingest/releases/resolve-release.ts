// Finds the release an image's `version:` names on its recipe's download site and verifies the chain that gives the
// archive's digest: the digest always comes from the distro's own index, never from the response that carries the archive.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import type { ReleaseDiscovery } from '../../config/recipes.ts';
import { redactUrl } from '../../config/redact-url.ts';
import { findListedDigest } from '../checksum-list.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';
import { findArchIso, MAX_ARCH_SUMS_BYTES } from './arch-releases.ts';
import { MAX_ALPINE_INDEX_BYTES, parseAlpineReleases } from './alpine-releases.ts';
import { findDebianPackage, MAX_PACKAGES_BYTES, type DebianPackage } from './debian-packages.ts';
import { MAX_RELEASE_BYTES, parseDebianRelease, type DebianRelease } from './debian-release.ts';
import { resolveDrblStable, resolveFedora, resolveReleaseSums } from './resolve-project-releases.ts';
import { checksumVerifiedOver, releaseNotFound, type FetchIndex, type ReleaseRequest, type ResolvedRelease } from './release-request.ts';
import { readKeyring, verifyClearSigned, verifyDetached } from './signature.ts';

/** A SHA256SUMS list is a few KB; 1 MiB bounds a lying one. */
const MAX_SUMS_BYTES = 1024 * 1024;

/** Resolves `request` with `fetchIndex`; every failure is an IngestError naming the index and the fix. */
export async function resolveRelease(request: ReleaseRequest, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  const { discovery } = request;
  if (discovery.kind === 'debian-dists') return resolveDebian(request, discovery, fetchIndex);
  if (discovery.kind === 'debian-package') return resolveDebianPackage(request, discovery, fetchIndex);
  if (discovery.kind === 'alpine-yaml') return resolveAlpine(request, discovery, fetchIndex);
  if (discovery.kind === 'fedora-json') return resolveFedora(request, discovery, fetchIndex);
  if (discovery.kind === 'release-sums') return resolveReleaseSums(request, discovery, fetchIndex);
  if (discovery.kind === 'drbl-stable') return resolveDrblStable(request, discovery, fetchIndex);
  return resolveArch(request, fetchIndex);
}

type Debian = Extract<ReleaseDiscovery, { kind: 'debian-dists' }>;
type DebianPackageDiscovery = Extract<ReleaseDiscovery, { kind: 'debian-package' }>;

/** A suite's Release, its signature checked, and where it lives. */
interface SignedSuite {
  release: DebianRelease;
  /** The signed file, redacted, for messages. */
  where: string;
  /** dists/<codename>/ below the mirror: every file the Release lists is below it. */
  folder: string;
  /** dists/<suite>/ as asked for, redacted: the manifest's index. */
  asked: string;
  /** The suite name asked for (stable for latest). */
  suite: string;
}

// latest is the stable suite; a number (12) or point release (12.8) is whichever of the three supported suites
// carries it (dists/ has no numbered folders); anything else is a codename or suite name (bookworm, testing).
async function resolveDebian(request: ReleaseRequest, discovery: Debian, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  const suite = await signedDebianSuite(request, discovery.keyring, fetchIndex, { numbers: true });
  const sums = await fetchListed(suite, discovery.sums, MAX_SUMS_BYTES, 'check the mirror carries the installer images', fetchIndex);
  const below = discovery.archive.slice(discovery.sums.lastIndexOf('/') + 1);
  const archiveDigest = findListedDigest(Buffer.from(sums.bytes).toString('utf8'), below.split('/').pop()!, below);
  if (!archiveDigest) throw new IngestError(IngestErrorCode.ChecksumNotListed, `${sums.shown} does not name ${below}; check the mirror carries the netboot images`);
  const { release } = suite;
  return { version: release.version ?? release.codename ?? suite.suite, url: suite.folder + discovery.archive, digest: archiveDigest, verifiedBy: 'signature', indexUrl: suite.asked };
}

/** Packages.gz of a suite is about 13 MB (trixie's main/binary-amd64); a Release listing a far bigger one is refused. */
const MAX_PACKAGES_GZ_BYTES = 64 * 1024 * 1024;

// latest is the stable suite, anything else a codename or suite name (bookworm, trixie, testing); the version found is
// the package's own (6.10-4). The chain: the signed Release lists Packages.gz (or the uncompressed Packages) with its
// SHA256 and size, and the package's paragraph there gives its .deb below the mirror with the .deb's SHA256.
async function resolveDebianPackage(request: ReleaseRequest, discovery: DebianPackageDiscovery, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  if (/^\d/.test(request.version)) throw releaseNotFound(request, `is not a Debian codename or suite; ${discovery.package} takes latest (stable) or a suite such as bookworm or trixie, and installs the version that suite has`);
  const suite = await signedDebianSuite(request, discovery.keyring, fetchIndex, { numbers: false });
  const base = `${discovery.component}/binary-${discovery.arch}/Packages`;
  const gz = suite.release.sha256.get(`${base}.gz`);
  const path = gz ? `${base}.gz` : base;
  const uncompressed = suite.release.sha256.get(base);
  // The same index (by the digest the signed Release gives it) lists the same paragraph: a daily check of an unchanged
  // suite verifies the Release and skips the 13 MB download. An index the Release does not list is fetchListed's error.
  const listedIndex = gz ?? uncompressed;
  const key = `${suite.folder}${path} ${listedIndex?.digest} ${discovery.package}`;
  let known = listedIndex ? PACKAGES_SEEN.get(key) : undefined;
  if (!known) {
    const listed = await fetchListed(suite, path, MAX_PACKAGES_GZ_BYTES, `check the mirror carries ${discovery.component} for ${discovery.arch}`, fetchIndex);
    const index = gz ? await gunzipIndex(listed.bytes, listed.shown, uncompressed?.size) : listed.bytes;
    known = { found: findDebianPackage(index, discovery.package, listed.shown), shown: listed.shown };
    rememberPackage(key, known);
  }
  const { found, shown } = known;
  return {
    version: found.version,
    url: request.mirror + found.filename,
    digest: { algorithm: 'sha256', value: found.sha256 },
    verifiedBy: 'signature',
    indexUrl: shown,
  };
}

/** Packages found, by the Packages index's URL and digest (as a signed Release listed it) and the package name; the newest few. */
const PACKAGES_SEEN = new Map<string, { found: DebianPackage; shown: string }>();
const MAX_PACKAGES_SEEN = 16;

function rememberPackage(key: string, value: { found: DebianPackage; shown: string }): void {
  if (PACKAGES_SEEN.size >= MAX_PACKAGES_SEEN) PACKAGES_SEEN.delete(PACKAGES_SEEN.keys().next().value!);
  PACKAGES_SEEN.set(key, value);
}

// 1 MiB at a time with a turn of the event loop between: Debian's 13 MB Packages.gz hashed at once blocked for 10-30 ms.
async function sha256InSlices(bytes: Uint8Array): Promise<string> {
  const slice = 1024 * 1024;
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += slice) {
    if (at > 0) await yieldToLoop();
    hash.update(bytes.subarray(at, at + slice));
  }
  return hash.digest('hex');
}

// zlib's stream gunzip runs on the thread pool, 1 MiB of output per step, so the server's one thread only copies each
// step into place: the convenience gunzip() joins 57 MB of 16 KB chunks in one synchronous Buffer.concat at the end
// (measured on trixie's index: 185 ms of blocked event loop; this way at most about 20 ms). The Release gives the
// uncompressed index's size, which sizes the buffer and bounds the output exactly; without it the output stops at
// MAX_PACKAGES_BYTES.
async function gunzipIndex(gz: Uint8Array, shown: string, listedSize: number | undefined): Promise<Uint8Array> {
  const limit = Math.min(listedSize ?? MAX_PACKAGES_BYTES, MAX_PACKAGES_BYTES);
  const output = listedSize !== undefined && listedSize <= limit ? Buffer.allocUnsafe(listedSize) : undefined;
  const chunks: Buffer[] = [];
  let length = 0;
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  gunzip.end(gz);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (length + chunk.length > limit) throw new IngestError(IngestErrorCode.ReleaseIndex, `${shown} unpacks to more than ${limit} bytes${listedSize !== undefined ? ', the size its Release gives for the uncompressed index' : ''}; check the mirror`);
      if (output) chunk.copy(output, length);
      else chunks.push(chunk);
      length += chunk.length;
    }
  } catch (error) {
    if (error instanceof IngestError) throw error;
    throw new IngestError(IngestErrorCode.ReleaseIndex, `${shown} is not valid gzip (${(error as Error).message}); check the mirror`);
  } finally {
    gunzip.destroy();
  }
  if (output) return output.subarray(0, length);
  return Buffer.concat(chunks, length);
}

/** The suite `request.version` names on the mirror, its Release signed by a key of the image's keyring (else `keyring`). */
async function signedDebianSuite(request: ReleaseRequest, keyring: string, fetchIndex: FetchIndex, options: { numbers: boolean }): Promise<SignedSuite> {
  const wanted = request.version;
  const numeric = options.numbers && /^\d+(\.\d+)?$/.test(wanted);
  const suites = wanted === 'latest' ? ['stable'] : numeric ? ['stable', 'oldstable', 'oldoldstable'] : [wanted];
  if (!/^[a-z0-9.-]{1,40}$/.test(suites[0]!)) throw releaseNotFound(request, 'is not a Debian codename, suite or version number');
  const keyringFile = request.keyring ?? keyring;
  const keyringBytes = await readFile(keyringFile).catch((error: NodeJS.ErrnoException) => {
    throw new IngestError(IngestErrorCode.Signature, `the keyring ${keyringFile} cannot be read (${error.code ?? 'error'}); install the debian-archive-keyring package or name a keyring file in the image's keyring:`);
  });
  const keys = await readKeyring(keyringBytes, keyringFile);
  for (const suite of suites) {
    const { text, where } = await signedRelease(request.mirror, suite, keys, fetchIndex);
    const release = parseDebianRelease(text, where);
    if (numeric && !(release.version === wanted || release.version?.split('.')[0] === wanted)) continue;
    // A mirror must not answer one suite's request with another suite's (older) signed Release.
    if (!numeric && wanted !== 'latest' && release.codename !== wanted && release.suite !== wanted) {
      throw new IngestError(IngestErrorCode.ReleaseIndex, `the Release file ${where} is for ${release.codename ?? release.suite ?? 'another suite'}, not ${wanted}; check the mirror`);
    }
    if (wanted === 'latest' && release.suite !== 'stable') {
      throw new IngestError(IngestErrorCode.ReleaseIndex, `the Release file ${where} is for suite ${release.suite ?? 'unknown'}, not stable; check the mirror`);
    }
    return { release, where, folder: `${request.mirror}dists/${release.codename ?? suite}/`, asked: redactUrl(`${request.mirror}dists/${suite}/`), suite };
  }
  throw releaseNotFound(request, 'is not a release in the stable, oldstable or oldoldstable suites of the mirror (Debian keeps only the newest point release of each)');
}

// A file the signed Release lists (path below dists/<codename>/), fetched with the listed size as its cap and checked
// against the listed SHA256 and size before anything in it is read.
async function fetchListed(suite: SignedSuite, path: string, maxBytes: number, fix: string, fetchIndex: FetchIndex): Promise<{ bytes: Uint8Array; shown: string }> {
  const listed = suite.release.sha256.get(path);
  if (!listed) throw new IngestError(IngestErrorCode.ReleaseIndex, `the Release file ${suite.where} does not list ${path}; ${fix}`);
  const url = suite.folder + path;
  const shown = redactUrl(url);
  if (listed.size > maxBytes) throw new IngestError(IngestErrorCode.ReleaseIndex, `the Release file ${suite.where} lists ${path} with ${listed.size} bytes, more than the ${maxBytes} a real one has; check the mirror`);
  const bytes = await fetchIndex(url, listed.size);
  if (!bytes) throw new IngestError(IngestErrorCode.NotFound, `${shown} does not exist on the mirror though its Release lists it; check the mirror is complete`);
  const digest = await sha256InSlices(bytes);
  if (digest !== listed.digest || bytes.length !== listed.size) {
    throw new IngestError(IngestErrorCode.ChecksumMismatch, `${shown} has sha256 ${digest} (${bytes.length} bytes), but its signed Release lists ${listed.digest} (${listed.size} bytes); nothing was installed — the mirror is stale or tampered with`);
  }
  return { bytes, shown };
}

// InRelease first (apt's order); mirrors that only have Release + Release.gpg are read that way.
async function signedRelease(mirror: string, suite: string, keys: Awaited<ReturnType<typeof readKeyring>>, fetchIndex: FetchIndex): Promise<{ text: string; where: string }> {
  const base = `${mirror}dists/${suite}/`;
  const inRelease = await fetchIndex(`${base}InRelease`, MAX_RELEASE_BYTES);
  if (inRelease) {
    const where = redactUrl(`${base}InRelease`);
    return { text: await verifyClearSigned(Buffer.from(inRelease).toString('utf8'), keys, where), where };
  }
  const where = redactUrl(`${base}Release`);
  const release = await fetchIndex(`${base}Release`, MAX_RELEASE_BYTES);
  if (!release) throw new IngestError(IngestErrorCode.ReleaseNotFound, `the mirror has neither ${redactUrl(`${base}InRelease`)} nor Release; check the image's version: (a Debian codename, suite or number) and the mirror URL`);
  const signature = await fetchIndex(`${base}Release.gpg`, 64 * 1024);
  if (!signature) throw new IngestError(IngestErrorCode.Signature, `${where} has no InRelease and no Release.gpg, so it cannot be verified; nothing was installed — check the mirror`);
  await verifyDetached(release, signature, keys, where);
  return { text: Buffer.from(release).toString('utf8'), where };
}

type Alpine = Extract<ReleaseDiscovery, { kind: 'alpine-yaml' }>;

// latest is the latest-stable folder; 3.20 or v3.20 that branch; 3.20.3 that branch, and the index must list it.
async function resolveAlpine(request: ReleaseRequest, discovery: Alpine, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  const wanted = request.version.replace(/^v/, '');
  const branch = request.version === 'latest' ? 'latest-stable' : /^\d+\.\d+(\.\d+)?$/.test(wanted) ? `v${wanted.split('.').slice(0, 2).join('.')}` : undefined;
  if (!branch) throw releaseNotFound(request, 'is not an Alpine version (latest, 3.20 or 3.20.3)');
  const folder = `${request.mirror}${branch}/releases/${discovery.arch}/`;
  const indexUrl = `${folder}latest-releases.yaml`;
  const index = await fetchIndex(indexUrl, MAX_ALPINE_INDEX_BYTES);
  if (!index) throw releaseNotFound(request, `has no index on the mirror (${redactUrl(indexUrl)} does not exist)`);
  const releases = parseAlpineReleases(Buffer.from(index).toString('utf8'), redactUrl(indexUrl)).filter((r) => r.flavor === discovery.flavor);
  const exact = wanted.split('.').length === 3;
  const release = releases.find((r) => !exact || r.version === wanted);
  // The index names only a branch's newest release; an older one keeps its <file>.sha256 next to it (the same
  // name pattern, <flavor>-<version>-<arch>.tar.gz, as every file the index lists).
  if (!release && exact) return resolveOlderAlpine(request, discovery, folder, wanted, fetchIndex);
  if (!release) throw releaseNotFound(request, `is not listed for ${discovery.flavor} in ${redactUrl(indexUrl)}`);
  // The file name comes from the index (checked to be one plain name); the branch folder names the release for good.
  const archiveFolder = release.branch ? `${request.mirror}${release.branch}/releases/${discovery.arch}/` : folder;
  return { version: release.version, url: archiveFolder + release.file, digest: { algorithm: 'sha256', value: release.sha256 }, verifiedBy: checksumVerifiedOver(indexUrl), indexUrl: redactUrl(indexUrl) };
}

async function resolveOlderAlpine(request: ReleaseRequest, discovery: Alpine, folder: string, version: string, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  const file = `${discovery.flavor}-${version}-${discovery.arch}.tar.gz`;
  const sumsUrl = `${folder}${file}.sha256`;
  const sums = await fetchIndex(sumsUrl, 4096);
  if (!sums) throw releaseNotFound(request, `is not on the mirror (${redactUrl(sumsUrl)} does not exist)`);
  const digest = findListedDigest(Buffer.from(sums).toString('utf8'), file);
  if (digest?.algorithm !== 'sha256') throw new IngestError(IngestErrorCode.ChecksumNotListed, `${redactUrl(sumsUrl)} does not give a sha256 for ${file}; check the mirror`);
  return { version, url: folder + file, digest, verifiedBy: checksumVerifiedOver(sumsUrl), indexUrl: redactUrl(sumsUrl) };
}

// latest is iso/latest/; a date (2024.12.01) is that folder. The archive URL uses the dated folder, so a new release is a new URL.
async function resolveArch(request: ReleaseRequest, fetchIndex: FetchIndex): Promise<ResolvedRelease> {
  const folderName = request.version === 'latest' ? 'latest' : /^\d{4}\.\d{2}\.\d{2}$/.test(request.version) ? request.version : undefined;
  if (!folderName) throw releaseNotFound(request, 'is not an Arch Linux release (latest or a date such as 2024.12.01)');
  const sumsUrl = `${request.mirror}iso/${folderName}/sha256sums.txt`;
  const sums = await fetchIndex(sumsUrl, MAX_ARCH_SUMS_BYTES);
  if (!sums) throw releaseNotFound(request, `has no checksum list on the mirror (${redactUrl(sumsUrl)} does not exist)`);
  const iso = findArchIso(Buffer.from(sums).toString('utf8'), redactUrl(sumsUrl));
  if (folderName !== 'latest' && iso.version !== folderName) throw new IngestError(IngestErrorCode.ReleaseIndex, `the Arch Linux checksum list ${redactUrl(sumsUrl)} names the ISO of ${iso.version}, not ${folderName}; check the mirror`);
  return { version: iso.version, url: `${request.mirror}iso/${iso.version}/${iso.file}`, digest: { algorithm: 'sha256', value: iso.sha256 }, verifiedBy: checksumVerifiedOver(sumsUrl), indexUrl: redactUrl(sumsUrl) };
}
