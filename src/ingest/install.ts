// Installs an image version atomically: data/images/<id> is a symlink to data/images/.versions/<id>-<stamp>,
// replaced by rename() of a new symlink (atomic on POSIX), so a reader sees the old or the new folder,
// never a half-written one. Old versions and leftovers of interrupted runs are removed afterwards.
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_VERSIONS_DIR as VERSIONS, type ImageLayout } from '../files/data-dir.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { IMAGE_MANIFEST_FILE, parseImageManifest, type ImageManifest } from './manifest.ts';

const STAGING_SUFFIX = '.partial';

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
 * Removes what an interrupted ingest of this image left behind (staging folders, temporary links) and
 * versions nothing points at. Call with the lock held.
 */
export async function cleanLeftovers(layout: ImageLayout): Promise<string[]> {
  const current = await currentVersion(layout);
  const removed: string[] = [];
  const versions = await readdir(layout.versionsDir).catch(() => [] as string[]);
  for (const name of versions) {
    if (!belongsTo(name, layout.id) || name === current) continue;
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
 * atomically. The previous version is removed afterwards. A real folder at data/images/<id> (files put
 * there by hand) is moved into .versions first, so it is replaced too.
 */
export async function commitStaging(layout: ImageLayout, staging: { dir: string; version: string }, manifest: ImageManifest): Promise<void> {
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
  const temporary = join(layout.imagesDir, `.${layout.id}.link-${staging.version}`);
  await symlink(`${VERSIONS}/${staging.version}`, temporary);
  await rename(temporary, layout.link);
  await rm(layout.failureFile, { force: true });
  // A folder moved aside above does not match belongsTo, so it is removed here by name.
  await rm(join(layout.versionsDir, `${staging.version}-previous`), { recursive: true, force: true });
  await cleanLeftovers(layout);
}
