// Writes the wanted entries of an archive into a fresh folder, hashing each file as it is written, and
// checks that the boot files are there. The folder is a staging folder: nothing here is served yet.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveEntry, ArchiveReader } from './archives.ts';
import type { ProgressSink } from './download.ts';
import { linkStaysInside, normalizeEntryPath, similarPaths } from './entry-names.ts';
import { compileMatcher } from './globs.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import type { ManifestFile } from './manifest.ts';
import { resolveRenames } from './renames.ts';
import { StoredCopier } from './stored-copy.ts';

/** What to take from an archive. */
export interface ExtractPlan {
  /** Archive name for messages. */
  archiveName: string;
  /** Globs (and plain folder names) of paths to extract. */
  extract: readonly string[];
  /** target → glob (see resolveRenames). */
  renames: Readonly<Record<string, string>>;
  /** Files that must exist afterwards: the boot files. */
  required: readonly string[];
}

/** The files written (regular files, hashed). */
export interface ExtractResult {
  files: ManifestFile[];
}

/** Extracts the planned entries of `reader` into `dir` (which must be empty); throws IngestError when the archive is hostile or lacks a boot file. */
export async function extractArchive(
  reader: ArchiveReader,
  dir: string,
  plan: ExtractPlan,
  warn: (message: string) => void,
  progress?: ProgressSink,
): Promise<ExtractResult> {
  const wanted = compileMatcher([...plan.extract, ...plan.required]);
  const renameGlobs = compileMatcher([...Object.values(plan.renames), ...Object.keys(plan.renames)]);
  const files = new Map<string, ManifestFile>();
  const archivePaths = new Set<string>();
  const links: Array<{ path: string; target: string; hard: boolean }> = [];
  // Made at the first stored entry of a local image and used for the rest.
  let copier: StoredCopier | undefined;
  const storedCopier = (): StoredCopier => (copier ??= new StoredCopier());

  const walked = reader.forEachEntry(async (entry, open) => {
    // `tar -C dir .` records the folder itself as "./".
    if (entry.kind === 'directory' && /^(\.\/?)+$/.test(entry.name)) return;
    const normalized = normalizeEntryPath(entry.name);
    if (!normalized.ok) {
      throw new IngestError(
        IngestErrorCode.HostileEntry,
        `${plan.archiveName} has an entry named ${JSON.stringify(entry.name.slice(0, 200))} that would leave the image folder (${normalized.reason}); nothing was installed — use an archive from a trusted source`,
      );
    }
    const path = normalized.path;
    if (entry.kind === 'directory' || entry.kind === 'other') return;
    archivePaths.add(path);
    if (!wanted.matches(path) && !renameGlobs.matches(path)) return;
    if (entry.kind === 'symlink' || entry.kind === 'hardlink') {
      const target = entry.linkTarget ?? '';
      // A hard link names an archive path; a symlink is relative to its own folder.
      const inside = entry.kind === 'hardlink' ? normalizeEntryPath(target).ok : linkStaysInside(path, target);
      if (!inside) {
        throw new IngestError(
          IngestErrorCode.HostileEntry,
          `${plan.archiveName} has a link ${JSON.stringify(path)} pointing outside the image folder (to ${JSON.stringify(target.slice(0, 200))}); nothing was installed — use an archive from a trusted source`,
        );
      }
      links.push({ path, target, hard: entry.kind === 'hardlink' });
      return;
    }
    files.set(path, await writeEntry(dir, path, entry, open, files.has(path), storedCopier, progress));
  });
  await walked.finally(() => copier?.close());

  // Links last: no entry is ever written through a link, so none can redirect a later write.
  for (const link of links) {
    const at = join(dir, link.path);
    await mkdir(dirname(at), { recursive: true });
    await rm(at, { force: true });
    if (link.hard) {
      const source = normalizeEntryPath(link.target);
      const original = source.ok ? files.get(source.path) : undefined;
      if (!original) continue;
      await copyFile(join(dir, original.path), at);
      files.set(link.path, { ...original, path: link.path });
    } else {
      if (links.some((other) => link.path.startsWith(`${other.path}/`))) continue;
      await symlink(link.target, at);
    }
  }

  const { moves, ambiguous } = resolveRenames(plan.renames, archivePaths);
  if (ambiguous.length > 0) {
    const first = ambiguous[0]!;
    throw new IngestError(
      IngestErrorCode.AmbiguousRename,
      `${plan.archiveName} has ${first.matches.length} files matching ${first.glob} for ${first.target} (${first.matches.slice(0, 5).join(', ')}); name the one to use with extract and boot in images.yaml`,
    );
  }
  for (const move of moves) {
    const from = files.get(move.source);
    if (!from) continue;
    await mkdir(dirname(join(dir, move.target)), { recursive: true });
    if (wanted.matches(move.source)) await copyFile(join(dir, move.source), join(dir, move.target));
    else {
      await rename(join(dir, move.source), join(dir, move.target));
      files.delete(move.source);
      await removeEmptyParents(dir, move.source);
    }
    files.set(move.target, { ...from, path: move.target });
  }
  // Files taken only because a rename glob might have needed them.
  for (const path of [...files.keys()]) {
    if (!wanted.matches(path) && !(path in plan.renames)) {
      await rm(join(dir, path), { force: true });
      files.delete(path);
      await removeEmptyParents(dir, path);
    }
  }

  const present = await Promise.all(plan.required.map((file) => stat(join(dir, file)).then((s) => s.isFile(), () => false)));
  const missing = plan.required.filter((_, i) => !present[i]);
  if (missing.length > 0 && reader.type === 'single') {
    throw new IngestError(
      IngestErrorCode.MissingFiles,
      `${plan.archiveName} is a single file, not an archive, so it is installed under its own name; use ${plan.archiveName} in boot instead of ${missing.join(', ')}`,
    );
  }
  if (missing.length > 0) {
    const described = missing.map((file) => {
      const similar = similarPaths(file, archivePaths);
      return similar.length > 0 ? `${file} (similar: ${similar.join(', ')})` : file;
    });
    throw new IngestError(
      IngestErrorCode.MissingFiles,
      `${plan.archiveName} lacks ${described.join(', ')}; correct boot.kernel, boot.initrd or the recipe in images.yaml, or use the right archive`,
    );
  }
  for (const pattern of plan.extract) {
    if (!plan.required.includes(pattern) && ![...files.keys()].some((path) => compileMatcher([pattern]).matches(path)) && !links.some((l) => compileMatcher([pattern]).matches(l.path))) {
      warn(`extract pattern ${pattern} matches nothing in ${plan.archiveName}`);
    }
  }
  return { files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}

// Folders that only held a renamed or dropped file are not installed either.
async function removeEmptyParents(dir: string, path: string): Promise<void> {
  const segments = path.split('/').slice(0, -1);
  while (segments.length > 0) {
    try {
      await rmdir(join(dir, ...segments));
    } catch {
      return;
    }
    segments.pop();
  }
}

// Progress per file: the sink's throttle keeps small files silent and shows multi-GB root images moving.
async function writeEntry(
  dir: string,
  path: string,
  entry: ArchiveEntry,
  open: () => NodeJS.ReadableStream,
  replace: boolean,
  storedCopier: () => StoredCopier,
  progress: ProgressSink | undefined,
): Promise<ManifestFile> {
  const at = join(dir, path);
  await mkdir(dirname(at), { recursive: true });
  // tar lets a later entry of the same name win; 'wx' otherwise guarantees we never write through a link.
  if (replace) await rm(at, { force: true });
  const hash = createHash('sha256');
  const started = Date.now();
  let size = 0;
  const take = (chunk: Uint8Array): void => {
    hash.update(chunk);
    size += chunk.length;
    progress?.update({ received: size, total: entry.size, resumedFrom: 0, elapsedMs: Date.now() - started });
  };
  const stored = entry.stored;
  if (stored?.source.fd !== undefined) {
    await storedCopier().copy(stored.source.fd, stored.extents, entry.size, at, take);
  } else {
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        take(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(open(), hasher, createWriteStream(at, { flags: 'wx', flush: true }));
  }
  progress?.done();
  return { path, size, sha256: hash.digest('hex') };
}
