// Installs an image version atomically: data/images/<id> is a symlink to data/images/.versions/<id>-<stamp>,
// replaced by rename() of a new symlink (atomic on POSIX), so a reader sees the old or the new folder,
// never a half-written one. The previous versions are kept (ingest.keep_versions) for a rollback, which swaps
// the link back the same way; older ones and leftovers of interrupted runs are removed.
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_VERSIONS_DIR as VERSIONS, type ImageLayout } from '../files/data-dir.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { IMAGE_MANIFEST_FILE, parseImageManifest, sameFingerprint, type ImageManifest, type IngestFingerprint } from './manifest.ts';

const STAGING_SUFFIX = '.partial';

/** How many versions before the serving one are kept when ingest.keep_versions is not set. */
export const DEFAULT_KEEP_VERSIONS = 2;

/** The manifest of the installed version, if any (read through the symlink, like the servers do). */
export async function readInstalledManifest(layout: ImageLayout): Promise<ImageManifest | undefined> {
  const text = await readFile(join(layout.link, IMAGE_MANIFEST_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseImageManifest(text);
}

/** The last failure recorded for the image, when it is newer than the installed version. */
export async function readFailure(layout: ImageLayout): Promise<{ at: string; message: string; code: string } | undefined> {
  const text = await readFile(layout.failureFile, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as { at: string; message: string; code: string };
  } catch {
    return undefined;
  }
}

/** Records a failed ingest (the installed version, if any, keeps serving). */
export async function recordFailure(layout: ImageLayout, at: Date, error: Error): Promise<void> {
  await mkdir(layout.imagesDir, { recursive: true });
  const code = (error as { code?: unknown }).code;
  await writeFile(layout.failureFile, JSON.stringify({ at: at.toISOString(), code: typeof code === 'string' ? code : 'ERROR', message: error.message }) + '\n');
}

/**
 * Takes the per-image lock (a file holding our pid), so two ingests never build the same image at once;
 * a lock whose process is gone (killed ingest) is taken over.
 */
export async function lockImage(layout: ImageLayout): Promise<() => Promise<void>> {
  await mkdir(layout.imagesDir, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(layout.lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(layout.lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(layout.lockFile, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new IngestError(IngestErrorCode.Busy, `another ingest of ${layout.id} is running (pid ${pid}); wait for it, or delete ${layout.lockFile} if that process is not bootstation`);
      }
      await rm(layout.lockFile, { force: true });
    }
  }
  throw new IngestError(IngestErrorCode.Busy, `the lock ${layout.lockFile} of ${layout.id} cannot be taken; delete it and run ingest again`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The version folder the served symlink points at, if it is one of ours. */
async function currentVersion(layout: ImageLayout): Promise<string | undefined> {
  const target = await readlink(layout.link).catch(() => undefined);
  if (target === undefined || !target.startsWith(`${VERSIONS}/`)) return undefined;
  return target.slice(VERSIONS.length + 1);
}

/**
 * Removes what an interrupted ingest of this image left behind (staging folders, temporary links) and the
 * versions beyond the `keep` newest ones besides the serving one. Call with the lock held. Removing a version
 * never breaks a boot in progress: a file opened before (a kernel being sent) stays readable until it is closed
 * (POSIX unlink semantics), and the serving version is never removed.
 */
export async function cleanLeftovers(layout: ImageLayout, keep = DEFAULT_KEEP_VERSIONS): Promise<string[]> {
  const current = await currentVersion(layout);
  const removed: string[] = [];
  const names = (await readdir(layout.versionsDir).catch(() => [] as string[])).filter((name) => belongsTo(name, layout.id));
  const kept = new Set(names.filter((name) => !name.endsWith(STAGING_SUFFIX) && name !== current).sort().reverse().slice(0, Math.max(0, keep)));
  for (const name of names) {
    if (name === current || kept.has(name)) continue;
    await rm(join(layout.versionsDir, name), { recursive: true, force: true });
    removed.push(join(VERSIONS, name));
  }
  for (const name of await readdir(layout.imagesDir).catch(() => [] as string[])) {
    if (name.startsWith(`.${layout.id}.link-`)) {
      await unlink(join(layout.imagesDir, name)).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** One installed version of an image, newest first in listVersions. */
export interface ImageVersion {
  /** The folder name under data/images/.versions. */
  name: string;
  serving: boolean;
  /** From its manifest (absent when the manifest cannot be read). */
  ingestedAt?: string;
  version?: string;
  /** Bytes of its files, from its manifest. */
  size: number;
}

/** Every complete version of the image on disk, newest first (stamps sort by time). */
export async function listVersions(layout: ImageLayout): Promise<ImageVersion[]> {
  const current = await currentVersion(layout);
  const names = (await readdir(layout.versionsDir).catch(() => [] as string[])).filter((name) => belongsTo(name, layout.id) && !name.endsWith(STAGING_SUFFIX));
  return Promise.all(
    names.sort().reverse().map(async (name): Promise<ImageVersion> => {
      const text = await readFile(join(layout.versionsDir, name, IMAGE_MANIFEST_FILE), 'utf8').catch(() => undefined);
      const manifest = text === undefined ? undefined : parseImageManifest(text);
      return {
        name,
        serving: name === current,
        ...(manifest ? { ingestedAt: manifest.ingestedAt } : {}),
        ...(manifest?.version ? { version: manifest.version } : {}),
        size: manifest ? manifest.files.reduce((sum, file) => sum + file.size, 0) : 0,
      };
    }),
  );
}

/** What a rollback pinned: the releases the automatic runner leaves alone until a newer one appears or someone ingests. */
export interface ImagePin {
  /** The version switched back to. */
  version: string;
  /** Fingerprints of the versions rolled back from. */
  declined: IngestFingerprint[];
}

/** The image's pin, if a rollback set one. */
export async function readPin(layout: ImageLayout): Promise<ImagePin | undefined> {
  const text = await readFile(layout.pinFile, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const pin = JSON.parse(text) as Partial<ImagePin>;
    return typeof pin.version === 'string' && Array.isArray(pin.declined) ? (pin as ImagePin) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a pin declines `fingerprint`: the release a rollback switched away from. */
export function pinDeclines(pin: ImagePin | undefined, fingerprint: IngestFingerprint | undefined): boolean {
  return pin !== undefined && fingerprint !== undefined && pin.declined.some((declined) => sameFingerprint(declined, fingerprint));
}

/**
 * Points data/images/<id> at the newest version older than the serving one, atomically (same rename as an
 * install), and pins it: the runner does not ingest the release rolled back from again by itself. Throws
 * IngestError NoPreviousVersion when there is none, Busy while an ingest of the image runs.
 */
export async function rollbackImage(layout: ImageLayout): Promise<{ from: string; to: string }> {
  const release = await lockImage(layout);
  try {
    const current = await currentVersion(layout);
    const versions = await listVersions(layout);
    const older = current === undefined ? [] : versions.filter((version) => version.name < current);
    const target = older[0];
    if (current === undefined || target === undefined) {
      throw new IngestError(
        IngestErrorCode.NoPreviousVersion,
        `${layout.id} has no older version in ${layout.versionsDir} to roll back to; ingest.keep_versions in images.yaml sets how many are kept`,
      );
    }
    const from = await readFile(join(layout.versionsDir, current, IMAGE_MANIFEST_FILE), 'utf8').then(parseImageManifest, () => undefined);
    const pin = await readPin(layout);
    const declined = [...(pin?.declined ?? []), ...(from ? [from.fingerprint] : [])];
    await writeFile(layout.pinFile, JSON.stringify({ version: target.name, declined } satisfies ImagePin, null, 2) + '\n');
    await switchLink(layout, target.name);
    return { from: current, to: target.name };
  } finally {
    await release();
  }
}

// A new link beside the served one, renamed over it: rename() replaces the name in one step.
async function switchLink(layout: ImageLayout, version: string): Promise<void> {
  const temporary = join(layout.imagesDir, `.${layout.id}.link-${version}`);
  await rm(temporary, { force: true });
  await symlink(`${VERSIONS}/${version}`, temporary);
  await rename(temporary, layout.link);
}

// <id>-<stamp> and <id>-<stamp>.partial; ids may contain hyphens, stamps never start with a letter.
function belongsTo(name: string, id: string): boolean {
  return name.startsWith(`${id}-`) && /^\d{8}T\d{9}Z-\d+(\.partial)?$/.test(name.slice(id.length + 1));
}

/** A new, empty staging folder inside data/images (same file system as the served link, so rename() works). */
export async function createStaging(layout: ImageLayout, now: Date): Promise<{ dir: string; version: string }> {
  // Milliseconds in the stamp: `ingest --force` twice within a second still makes two versions.
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  const version = `${layout.id}-${stamp}-${process.pid}`;
  const dir = join(layout.versionsDir, version + STAGING_SUFFIX);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return { dir, version };
}

/**
 * Writes the manifest into the staging folder, makes it a version, and points data/images/<id> at it
 * atomically; the `keep` newest versions before it stay, older ones are removed. A real folder at
 * data/images/<id> (files put there by hand) is moved into .versions first, so it is replaced too. A new
 * install ends a rollback's pin: it is a release someone (or a new upstream release) asked for.
 */
export async function commitStaging(layout: ImageLayout, staging: { dir: string; version: string }, manifest: ImageManifest, keep = DEFAULT_KEEP_VERSIONS): Promise<void> {
  const handle = await open(join(staging.dir, IMAGE_MANIFEST_FILE), 'wx');
  await handle.writeFile(JSON.stringify(manifest, null, 2) + '\n');
  await handle.sync();
  await handle.close();
  const versionDir = join(layout.versionsDir, staging.version);
  await rename(staging.dir, versionDir);

  const existing = await lstat(layout.link).catch(() => undefined);
  if (existing && !existing.isSymbolicLink()) {
    await rename(layout.link, join(layout.versionsDir, `${staging.version}-previous`));
  }
  await switchLink(layout, staging.version);
  await rm(layout.failureFile, { force: true });
  await rm(layout.pinFile, { force: true });
  // A folder moved aside above does not match belongsTo, so it is removed here by name.
  await rm(join(layout.versionsDir, `${staging.version}-previous`), { recursive: true, force: true });
  await cleanLeftovers(layout, keep);
}
