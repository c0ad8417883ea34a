// Writes the wanted entries of an archive into a fresh folder, hashing each file as it is written, and
// checks that the boot files are there. The folder is a staging folder: nothing here is served yet.
//
// One path for tar, zip and ISO alike, safe by construction rather than by pattern: an ExtractionTree
// holds everything this extraction made, and the disk is only touched where the tree says so. Every folder
// is made by this extraction (mkdir, never recursive), every file is opened with O_EXCL (never through a
// link), an entry whose path runs through a link of the archive is refused, hard links are copies of
// regular files of the same archive, and symlinks are made last, each judged against the final tree with
// every other link of the archive followed. Nothing is removed but files this extraction wrote.
import { createHash } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveEntry, ArchiveReader } from './archives.ts';
import { diskFullError, freeBytes, rethrowAsDiskFull, type SpaceNeed } from './disk-space.ts';
import type { ProgressSink } from './download.ts';
import { normalizeEntryPath, similarPaths } from './entry-names.ts';
import { DEFAULT_MAX_EXTRACTED_BYTES, ExtractBudget } from './extract-budget.ts';
import { ExtractionTree } from './extraction-tree.ts';
import { compileMatcher } from './globs.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { IMAGE_MANIFEST_FILE, type ImageManifestFile } from './manifest.ts';
import { allRenameGlobs, resolveRenames, type Renames } from './renames.ts';
import { StoredCopier } from './stored-copy.ts';

/** What to take from an archive. */
export interface ExtractPlan {
  /** Archive name for messages. */
  archiveName: string;
  /** Globs (and plain folder names) of paths to extract. */
  extract: readonly string[];
  /** target → glob or globs (see resolveRenames). */
  renames: Renames;
  /** Files that must exist afterwards: the boot files. */
  required: readonly string[];
  /** Cap on the bytes of all files written (DEFAULT_MAX_EXTRACTED_BYTES when absent). */
  maxExtractedBytes?: number;
  /** What the files are for, in a "disk full" message (the image id); the archive name when absent. */
  image?: string;
  /** The folder a "disk full" message names (data/images); the extraction folder when absent. */
  diskFolder?: string;
  /**
   * A shutdown: the extraction stops between entries and within one (at the next chunk) and rejects with the
   * signal's reason (an AbortError); what it wrote stays in `dir` for the caller to remove.
   */
  signal?: AbortSignal;
}

/** The files written (regular files, hashed). */
export interface ExtractResult {
  files: ImageManifestFile[];
}

/**
 * Extracts the planned entries of `reader` into `dir` (which must be empty); throws IngestError when the archive is
 * hostile, too big for its cap or the disk, or lacks a boot file, and the signal's reason once plan.signal is aborted.
 */
export async function extractArchive(
  reader: ArchiveReader,
  dir: string,
  plan: ExtractPlan,
  warn: (message: string) => void,
  progress?: ProgressSink,
): Promise<ExtractResult> {
  const budget = new ExtractBudget(plan.maxExtractedBytes ?? DEFAULT_MAX_EXTRACTED_BYTES, plan.archiveName);
  // Measured before the first write: "has N free" in a disk-full message is what the image had to fit in.
  const free = await freeBytes(dir);
  const need = (bytes: number, atLeast: boolean): SpaceNeed => ({ where: plan.diskFolder ?? dir, what: plan.image ?? plan.archiveName, needed: bytes, atLeast });
  try {
    return await extractInto(reader, dir, plan, budget, { free, need }, warn, progress);
  } catch (error) {
    // The readers wrap what stops their walk as a damaged archive; a shutdown is not one.
    plan.signal?.throwIfAborted();
    return await rethrowAsDiskFull(error, need(budget.needed.bytes, budget.needed.atLeast), free);
  }
}

async function extractInto(
  reader: ArchiveReader,
  dir: string,
  plan: ExtractPlan,
  budget: ExtractBudget,
  space: { free: number; need: (bytes: number, atLeast: boolean) => SpaceNeed },
  warn: (message: string) => void,
  progress: ProgressSink | undefined,
): Promise<ExtractResult> {
  const wanted = compileMatcher([...plan.extract, ...plan.required]);
  const renameGlobs = compileMatcher([...allRenameGlobs(plan.renames), ...Object.keys(plan.renames)]);
  const taken = (path: string): boolean => wanted.matches(path) || renameGlobs.matches(path);
  const tree = new ExtractionTree();
  const files = new Map<string, ImageManifestFile>();
  // Every entry that is not a folder, by its kind: renames, hard links and "similar names" look here.
  const archiveKinds = new Map<string, ArchiveEntry['kind']>();
  // Names from the archive are quoted and cut: they are untrusted text.
  const quoted = (name: string): string => JSON.stringify(name.slice(0, 200));
  const hostile = (what: string): IngestError =>
    new IngestError(IngestErrorCode.HostileEntry, `${plan.archiveName} has ${what}; nothing was installed — use an archive from a trusted source`);
  // Folders the tree says are missing, made one level at a time: mkdir fails on anything already there.
  const place = async (path: string): Promise<'file' | 'symlink' | 'hardlink' | undefined> => {
    const placement = tree.place(path);
    if (!placement.ok) throw hostile(`an entry ${quoted(path)} that ${placement.reason}`);
    for (const folder of placement.newDirs) {
      await mkdir(join(dir, folder));
      tree.addDir(folder);
    }
    return placement.replaces;
  };
  const forget = async (path: string): Promise<void> => {
    for (const folder of tree.remove(path)) await rmdir(join(dir, folder));
  };

  // Zip and ISO declare their sizes up front: a bomb or an image too big for the disk stops before a byte is written.
  if (reader.declaredEntries) {
    let total = 0;
    for (const entry of await reader.declaredEntries()) {
      const normalized = normalizeEntryPath(entry.name);
      if (entry.kind === 'file' && normalized.ok && taken(normalized.path)) total += entry.size;
    }
    budget.declareTotal(total);
    if (total > space.free) throw diskFullError(space.need(total, false), space.free);
  }

  // Made at the first stored entry of a local image and used for the rest.
  let copier: StoredCopier | undefined;
  const storedCopier = (): StoredCopier => (copier ??= new StoredCopier());
  const signal = plan.signal;
  // tar (and a .deb's data.tar) is one stream: an entry not taken is read past all the same, so a big one is read
  // here, where a shutdown stops it.
  const sequential = reader.type === 'tar' || reader.type.startsWith('tar.') || reader.type === 'deb';

  const walked = reader.forEachEntry(async (entry, open) => {
    signal?.throwIfAborted();
    // `tar -C dir .` records the folder itself as "./".
    if (entry.kind === 'directory' && /^(\.\/?)+$/.test(entry.name)) return;
    const normalized = normalizeEntryPath(entry.name);
    if (!normalized.ok) throw hostile(`an entry named ${quoted(entry.name)} that would leave the image folder (${normalized.reason})`);
    const path = normalized.path;
    if (entry.kind === 'directory' || entry.kind === 'other') return;
    archiveKinds.set(path, entry.kind);
    if (!taken(path)) {
      if (sequential && entry.kind === 'file' && entry.size > 0) await pipeline(open(), discard(), signal ? { signal } : {});
      return;
    }
    if (path === IMAGE_MANIFEST_FILE) {
      // The name of the manifest the install writes: an archive's own would stand in its way (or forge it).
      warn(`${plan.archiveName}: left out its ${IMAGE_MANIFEST_FILE}, the name of bootstation's own manifest`);
      return;
    }
    const replaces = await place(path);
    // tar lets a later entry of the same name win; only a file this extraction wrote is ever removed.
    if (replaces === 'file') {
      await rm(join(dir, path));
      files.delete(path);
    }
    if (entry.kind === 'symlink') {
      tree.add(path, { kind: 'symlink', target: entry.linkTarget ?? '' });
    } else if (entry.kind === 'hardlink') {
      // A hard link names an archive path, which must itself be a plain name inside.
      const source = normalizeEntryPath(entry.linkTarget ?? '');
      if (!source.ok) throw hostile(`a hard link ${quoted(path)} to ${quoted(entry.linkTarget ?? '')}, which would leave the image folder (${source.reason})`);
      tree.add(path, { kind: 'hardlink', target: source.path });
    } else {
      budget.declare(entry.size);
      files.set(path, await writeEntry(dir, path, entry, open, storedCopier, budget, progress, signal));
      tree.add(path, { kind: 'file' });
    }
  });
  await walked.finally(() => copier?.close());

  // Hard links are copies of files this extraction wrote, so both names stay plain files.
  for (const { path, node } of tree.plannedLinks()) {
    if (node.kind !== 'hardlink') continue;
    signal?.throwIfAborted();
    if (archiveKinds.get(node.target) !== 'file') {
      throw hostile(`a hard link ${quoted(path)} to ${quoted(node.target)}, which is not a regular file of the archive`);
    }
    const original = tree.get(node.target)?.kind === 'file' ? files.get(node.target) : undefined;
    if (!original) {
      // Its file was not extracted (not wanted): nothing to copy; a missing boot file is reported below.
      await forget(path);
      continue;
    }
    budget.declare(original.size);
    await copyFile(join(dir, original.path), join(dir, path), constants.COPYFILE_EXCL);
    budget.written(original.size);
    tree.add(path, { kind: 'file' });
    files.set(path, { ...original, path });
  }

  const { moves, ambiguous } = resolveRenames(plan.renames, new Set(archiveKinds.keys()));
  if (ambiguous.length > 0) {
    const first = ambiguous[0]!;
    throw new IngestError(
      IngestErrorCode.AmbiguousRename,
      `${plan.archiveName} has ${first.matches.length} files matching ${first.glob} for ${first.target} (${first.matches.slice(0, 5).join(', ')}); name the one to use with extract and boot in images.yaml`,
    );
  }
  for (const move of moves) {
    signal?.throwIfAborted();
    const from = files.get(move.source);
    if (!from) continue;
    await place(move.target);
    if (wanted.matches(move.source)) {
      budget.declare(from.size);
      await copyFile(join(dir, move.source), join(dir, move.target), constants.COPYFILE_EXCL);
      budget.written(from.size);
      tree.add(move.target, { kind: 'file' });
    } else {
      await rename(join(dir, move.source), join(dir, move.target));
      // The target first: its folder may be the one the source leaves empty.
      tree.add(move.target, { kind: 'file' });
      files.delete(move.source);
      await forget(move.source);
    }
    files.set(move.target, { ...from, path: move.target });
  }
  // Files taken only because a rename glob might have needed them.
  for (const path of [...files.keys()]) {
    if (!wanted.matches(path) && !(path in plan.renames)) {
      await rm(join(dir, path));
      files.delete(path);
      await forget(path);
    }
  }

  // Symlinks last, judged against the final tree: nothing is written after them, so none can redirect a write.
  const symlinks = tree.plannedLinks().filter((link) => link.node.kind === 'symlink');
  for (const { path, node } of symlinks) {
    const verdict = tree.judgeSymlink(path);
    if (!verdict.ok) throw hostile(`a link ${quoted(path)} to ${quoted(node.target)} that ${verdict.reason}`);
  }
  for (const { path, node } of symlinks) await symlink(node.target, join(dir, path));

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
      const similar = similarPaths(file, archiveKinds.keys());
      return similar.length > 0 ? `${file} (similar: ${similar.join(', ')})` : file;
    });
    throw new IngestError(
      IngestErrorCode.MissingFiles,
      `${plan.archiveName} lacks ${described.join(', ')}; correct boot.kernel, boot.initrd or the recipe in images.yaml, or use the right archive`,
    );
  }
  for (const pattern of plan.extract) {
    const matcher = compileMatcher([pattern]);
    if (!plan.required.includes(pattern) && ![...files.keys()].some((path) => matcher.matches(path)) && !symlinks.some((l) => matcher.matches(l.path))) {
      warn(`extract pattern ${pattern} matches nothing in ${plan.archiveName}`);
    }
  }
  return { files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}

// Progress per file: the sink's throttle keeps small files silent and shows multi-GB root images moving.
// 'wx' (O_CREAT|O_EXCL) on both paths: a file is never opened through a link or over anything already there.
async function writeEntry(
  dir: string,
  path: string,
  entry: ArchiveEntry,
  open: () => NodeJS.ReadableStream,
  storedCopier: () => StoredCopier,
  budget: ExtractBudget,
  progress: ProgressSink | undefined,
  signal: AbortSignal | undefined,
): Promise<ImageManifestFile> {
  const at = join(dir, path);
  const hash = createHash('sha256');
  const started = Date.now();
  let size = 0;
  // Called for every chunk (1 MiB from the copier), so a shutdown stops a multi-GB file within one chunk; the copier
  // stops its worker when this throws.
  const take = (chunk: Uint8Array): void => {
    signal?.throwIfAborted();
    budget.written(chunk.length);
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
        try {
          take(chunk);
        } catch (error) {
          return callback(error as Error);
        }
        callback(null, chunk);
      },
    });
    // The signal also ends a source that stalls between chunks (a decompressor, an HTTP range read).
    await pipeline(open(), hasher, createWriteStream(at, { flags: 'wx', flush: true }), signal ? { signal } : {});
  }
  progress?.done();
  return { path, size, sha256: hash.digest('hex') };
}

/** A sink that drops what it is given: the bytes of a tar entry nobody wants. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
