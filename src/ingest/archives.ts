// Reads the entries of an archive — ISO 9660, zip, tar (plain, gzip, zstd, xz), a Debian package's data.tar — or
// treats a file that is none of them as the one file it holds. Entries are streamed one at a time: nothing is held whole.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type * as Yauzl from 'yauzl';
import { ARCHIVE_HEAD_BYTES, detectArchiveType, isTarHeader, type ArchiveType } from './archive-type.ts';
import { DebArchiveError, locateDebData } from './deb-archive.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { openIsoImage, type IsoEntry, type IsoExtent, type RandomAccessSource } from './iso9660/iso-image.ts';

/** One entry as the archive records it; `name` is untrusted and not yet normalised. */
export interface ArchiveEntry {
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  size: number;
  /** Symlink target as recorded, or a hard link's archive path. */
  linkTarget?: string;
  /** Where a file's bytes lie, as they are, in the archive (ISO 9660 data): a copier may read them itself instead of calling `open`. */
  stored?: StoredBytes;
}

/** A file's bytes as extents of a random-access source, in file order. */
export interface StoredBytes {
  source: RandomAccessSource;
  extents: readonly IsoExtent[];
}

/** Called for each entry in archive order; `open` streams a file's bytes and may be called once, or not at all. */
export type EntryVisitor = (entry: ArchiveEntry, open: () => Readable) => Promise<void>;

/** An entry as an archive's directory declares it, before any file data is read. */
export interface DeclaredEntry {
  name: string;
  kind: ArchiveEntry['kind'];
  size: number;
}

/** An opened archive: its detected type and a walk over its entries. */
export interface ArchiveReader {
  type: ArchiveType | 'tar.gz' | 'tar.zst' | 'tar.xz';
  forEachEntry(visit: EntryVisitor): Promise<void>;
  /**
   * Every entry with its declared size, read from the archive's directory (zip central directory, ISO 9660
   * directory records) without reading file data; absent for tar, which declares sizes only as it streams.
   */
  declaredEntries?(): Promise<readonly DeclaredEntry[]>;
}

/** The bytes of an archive: random access always, a sequential stream when the whole file is at hand. */
export interface ArchiveSource {
  /** The file name, for messages and as the entry name of a single-file source. */
  name: string;
  random: RandomAccessSource;
  /** A fresh stream from byte 0; absent for remote sources read by Range requests. */
  stream?: () => Readable;
}

/** What openArchive needs from the system: the xz command (found on PATH by default). */
export interface ArchiveTools {
  xz: string;
}

/** Detects the source's type by its magic bytes and returns a reader for it. */
export async function openArchive(source: ArchiveSource, tools: ArchiveTools = { xz: 'xz' }, onWarning: (message: string) => void = () => {}): Promise<ArchiveReader> {
  const head = await source.random.read(0, Math.min(ARCHIVE_HEAD_BYTES, source.random.size));
  const type = detectArchiveType(head);
  switch (type) {
    case 'iso9660':
      return isoReader(source, onWarning);
    case 'zip':
      return zipReader(source);
    case 'deb':
      return debReader(source, tools);
    case 'bzip2':
      throw new IngestError(IngestErrorCode.BadArchive, `${source.name} is bzip2-compressed, which ingest does not read; use the distribution's .tar.gz, .tar.xz, .tar.zst, .zip or .iso download`);
    case 'single':
      return singleFileReader(source);
    case 'tar':
      return tarReader(source, 'tar', () => sequential(source));
    case 'gzip':
    case 'zstd':
    case 'xz': {
      const decompressed = (): Readable => decompress(type, sequential(source), source.name, tools);
      // A compressed file that is not a tarball (a gzipped initrd) is one file, installed as it is.
      if (!(await startsWithTarHeader(decompressed()))) return singleFileReader(source);
      return tarReader(source, type === 'gzip' ? 'tar.gz' : type === 'zstd' ? 'tar.zst' : 'tar.xz', decompressed);
    }
  }
}

function sequential(source: ArchiveSource): Readable {
  if (!source.stream) throw new Error(`${source.name}: a sequential stream is needed for this archive type`);
  return source.stream();
}

function badArchive(source: ArchiveSource, type: string, error: unknown): IngestError {
  if (error instanceof IngestError) return error;
  const detail = (error as Error).message.split('\n')[0];
  return new IngestError(IngestErrorCode.BadArchive, `${source.name} cannot be read as ${type} (${detail}); check that the source is the right, complete file`, { cause: error });
}

function singleFileReader(source: ArchiveSource): ArchiveReader {
  return {
    type: 'single',
    async forEachEntry(visit) {
      await visit({ name: source.name, kind: 'file', size: source.random.size }, () => sequential(source));
    },
  };
}

async function startsWithTarHeader(stream: Readable): Promise<boolean> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= 512) break;
    }
  } catch (error) {
    if (error instanceof IngestError) throw error;
    return false;
  } finally {
    stream.destroy();
  }
  return isTarHeader(Buffer.concat(chunks));
}

function decompress(type: 'gzip' | 'zstd' | 'xz', input: Readable, name: string, tools: ArchiveTools): Readable {
  if (type === 'gzip') return input.pipe(createGunzip()).once('close', () => input.destroy());
  if (type === 'zstd') return input.pipe(createZstdDecompress()).once('close', () => input.destroy());
  // Node has no xz decoder: the xz command streams it (xz-utils is on nearly every Linux system).
  const child = spawn(tools.xz, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = child.stdout;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 2000) stderr += chunk.toString();
  });
  child.once('error', (error: NodeJS.ErrnoException) => {
    input.destroy();
    output.destroy(
      error.code === 'ENOENT'
        ? new IngestError(IngestErrorCode.MissingTool, `${name} is xz-compressed and the xz command is not installed; install it (apt-get install xz-utils) and run ingest again`)
        : error,
    );
  });
  child.once('close', (code) => {
    if (code !== 0 && code !== null) output.destroy(new Error(`xz exited with ${code}: ${stderr.trim()}`));
  });
  // EPIPE when we stop reading early (the tar header peek) is expected, not an error.
  child.stdin.on('error', () => {});
  input.pipe(child.stdin);
  output.once('close', () => {
    input.destroy();
    if (child.exitCode === null) child.kill();
  });
  return output;
}

function tarReader(source: ArchiveSource, type: ArchiveReader['type'], stream: () => Readable): ArchiveReader {
  return {
    type,
    async forEachEntry(visit) {
      // Loaded when used, as yauzl below: an ISO ingest never needs them, and they cost start-up time.
      const { default: tarStream } = await import('tar-stream');
      const input = stream();
      const extract = tarStream.extract();
      input.once('error', (error) => extract.destroy(error));
      input.pipe(extract);
      try {
        for await (const entry of extract) {
          const header = entry.header;
          const kind: ArchiveEntry['kind'] =
            header.type === 'file' || header.type === 'contiguous-file' || header.type == null
              ? 'file'
              : header.type === 'directory'
                ? 'directory'
                : header.type === 'symlink'
                  ? 'symlink'
                  : header.type === 'link'
                    ? 'hardlink'
                    : 'other';
          let opened = false;
          await visit({ name: header.name, kind, size: header.size ?? 0, ...(header.linkname ? { linkTarget: header.linkname } : {}) }, () => {
            opened = true;
            return Readable.from(entry);
          });
          // tar is one stream: an entry nobody read must still be read past before the next header comes.
          if (!opened) for await (const _chunk of entry) void _chunk;
        }
      } catch (error) {
        throw badArchive(source, type, error);
      } finally {
        input.destroy();
      }
    },
  };
}

// A .deb's files are the tarball in its data.tar member (deb(5)): its header is found by walking the ar headers
// (bounded by deb-archive.ts), then the member's bytes stream through the same decompressors and tar reader as a
// .tar.xz. The member is read from the random-access source, so the whole package is never held in memory.
async function debReader(source: ArchiveSource, tools: ArchiveTools): Promise<ArchiveReader> {
  const { member, compression } = await locateDebData(source.random).catch((error: unknown) => {
    throw error instanceof DebArchiveError ? badArchive(source, 'a Debian package', error) : error;
  });
  if (compression === 'bzip2' || compression === 'lzma') {
    throw new IngestError(IngestErrorCode.BadArchive, `${source.name} keeps its files in ${member.name}, a compression ingest does not read; use a package built with xz, gzip or zstd (as Debian's own are)`);
  }
  const raw = (): Readable => rangeStream(source.random, member.dataOffset, member.size, 'file');
  return tarReader(source, 'deb', compression === 'none' ? raw : () => decompress(compression, raw(), source.name, tools));
}

// `length` bytes from `start` of a random-access source, 1 MiB at a time; `what` names the source when it ends early.
function rangeStream(source: RandomAccessSource, start: number, length: number, what: string): Readable {
  return Readable.from(
    (async function* () {
      for (let position = start; position < start + length; ) {
        const chunk = await source.read(position, Math.min(1024 * 1024, start + length - position));
        if (chunk.length === 0) throw new Error(`unexpected end of the ${what} at byte ${position}`);
        position += chunk.length;
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
    })(),
    { objectMode: false },
  );
}

// yauzl reads zips through this: each range becomes reads of the random-access source (rangeStream).
function sourceReader(yauzl: typeof Yauzl.default, source: RandomAccessSource): Yauzl.RandomAccessReader {
  return new (class extends yauzl.RandomAccessReader {
    override _readStreamForRange(start: number, end: number): Readable {
      return rangeStream(source, start, end - start, 'zip');
    }
  })();
}

// yauzl's own name checks (backslashes, absolute paths, "..") end the walk with these messages.
const YAUZL_HOSTILE_NAME = /^(invalid characters in fileName|absolute path|invalid relative path): (.*)$/s;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const MAX_LINK_BYTES = 4096;

function zipReader(source: ArchiveSource): ArchiveReader {
  // One pass over the central directory serves both the declared sizes and the walk.
  let listing: Promise<{ zip: Yauzl.ZipFile; entries: Yauzl.Entry[] }> | undefined;
  const list = (): Promise<{ zip: Yauzl.ZipFile; entries: Yauzl.Entry[] }> => (listing ??= listZip(source));
  return {
    type: 'zip',
    async declaredEntries() {
      const { entries } = await list();
      return entries.map((entry) => ({ name: entry.fileName, kind: zipEntryKind(entry), size: zipEntryKind(entry) === 'file' ? entry.uncompressedSize : 0 }));
    },
    async forEachEntry(visit) {
      const { zip, entries } = await list();
      try {
        for (const entry of entries) {
          const kind = zipEntryKind(entry);
          const open = (): Readable => Readable.from(openZipEntry(zip, entry));
          if (kind === 'symlink') {
            if (entry.uncompressedSize > MAX_LINK_BYTES) throw new Error(`symlink ${entry.fileName} is ${entry.uncompressedSize} bytes long`);
            const parts: Buffer[] = [];
            for await (const part of openZipEntry(zip, entry)) parts.push(part);
            const target = Buffer.concat(parts).toString('utf8');
            await visit({ name: entry.fileName, kind, size: 0, linkTarget: target }, open);
          } else {
            await visit({ name: entry.fileName, kind, size: kind === 'file' ? entry.uncompressedSize : 0 }, open);
          }
        }
      } catch (error) {
        throw zipError(source, error);
      } finally {
        zip.close();
      }
    },
  };
}

async function listZip(source: ArchiveSource): Promise<{ zip: Yauzl.ZipFile; entries: Yauzl.Entry[] }> {
  const { default: yauzl } = await import('yauzl');
  let zip: Yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(sourceReader(yauzl, source.random), source.random.size, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: true,
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (error) {
    throw badArchive(source, 'zip', error);
  }
  const entries: Yauzl.Entry[] = [];
  try {
    for (;;) {
      const entry = await new Promise<Yauzl.Entry | undefined>((resolve, reject) => {
        zip.once('entry', resolve).once('end', () => resolve(undefined)).once('error', reject);
        zip.readEntry();
      }).finally(() => zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error'));
      if (!entry) return { zip, entries };
      entries.push(entry);
    }
  } catch (error) {
    zip.close();
    throw zipError(source, error);
  }
}

function zipEntryKind(entry: Yauzl.Entry): ArchiveEntry['kind'] {
  if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) return 'symlink';
  return entry.fileName.endsWith('/') ? 'directory' : 'file';
}

// yauzl's own name checks end the walk with a message: a hostile name, said as the other readers say it.
function zipError(source: ArchiveSource, error: unknown): IngestError {
  const hostile = YAUZL_HOSTILE_NAME.exec((error as Error).message ?? '');
  if (hostile) {
    return new IngestError(
      IngestErrorCode.HostileEntry,
      `${source.name} has an entry named ${JSON.stringify(hostile[2])} that would leave the image folder (${hostile[1]}); nothing was installed — use an archive from a trusted source`,
    );
  }
  return badArchive(source, 'zip', error);
}

async function* openZipEntry(zip: Yauzl.ZipFile, entry: Yauzl.Entry): AsyncGenerator<Buffer> {
  const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (error, opened) => (error ? reject(error) : resolve(opened))));
  yield* stream as AsyncIterable<Buffer>;
}

async function isoReader(source: ArchiveSource, onWarning: (message: string) => void): Promise<ArchiveReader> {
  let image: Awaited<ReturnType<typeof openIsoImage>>;
  try {
    image = await openIsoImage(source.random, {
      onSkip: (skip) => onWarning(`${source.name}: left out ${JSON.stringify(skip.name)} in ${skip.directory || '/'} (${skip.reason}: ${skip.detail})`),
    });
  } catch (error) {
    throw badArchive(source, 'ISO 9660', error);
  }
  // One walk of the directories serves both the declared sizes and the extraction (a remote image pays
  // one Range request per directory, once).
  let listing: Promise<IsoEntry[]> | undefined;
  const list = (): Promise<IsoEntry[]> =>
    (listing ??= (async () => {
      const entries: IsoEntry[] = [];
      try {
        for await (const entry of image.walk()) entries.push(entry);
      } catch (error) {
        throw badArchive(source, 'ISO 9660', error);
      }
      return entries;
    })());
  return {
    type: 'iso9660',
    async declaredEntries() {
      return (await list()).map((entry) => ({ name: entry.path, kind: entry.kind, size: entry.kind === 'file' ? entry.size : 0 }));
    },
    async forEachEntry(visit) {
      const entries = await list();
      try {
        for (const entry of entries) {
          const open = (): Readable => Readable.from(image.readFile(entry), { objectMode: false });
          await visit(
            {
              name: entry.path,
              kind: entry.kind,
              size: entry.size,
              ...(entry.target !== undefined ? { linkTarget: entry.target } : {}),
              // The reader has checked these extents: inside the image, sections apart.
              ...(entry.kind === 'file' ? { stored: { source: source.random, extents: entry.extents } } : {}),
            },
            open,
          );
        }
      } catch (error) {
        throw badArchive(source, 'ISO 9660', error);
      }
    },
  };
}
