// An ISO 9660 image read through a random-access source: volume descriptors, directory trees with Rock
// Ridge, Joliet or plain names, and streamed file data. No file-system or network code: the source is a
// local file or HTTP Range requests alike. Hostile images end in an IsoError, never a hang: every loop
// is bounded by the image's size or by IsoLimits.
import {
  decodeDirectoryRecord,
  decodeDirectoryRecords,
  decodeUcs2,
  decodeVolumeDescriptor,
  FileFlag,
  FIRST_DESCRIPTOR_SECTOR,
  isSelfOrParent,
  LOGICAL_SECTOR_SIZE,
  VolumeDescriptorType,
  type DirectoryRecord,
  type TreeDescriptor,
} from './ecma119.ts';
import { IsoError, IsoErrorCode } from './iso-error.ts';
import {
  decodeSystemUseArea,
  emptySystemUseInfo,
  RockRidgeFlag,
  ROCK_RIDGE_EXTENSION_IDS,
  symlinkTarget,
  type SystemUseInfo,
} from './rock-ridge.ts';

/** Random-access bytes of an image (the shape of src/files' OpenedFile, or an HTTP Range reader). */
export interface RandomAccessSource {
  readonly size: number;
  /** Resolves to the bytes at `position`; fewer than `length` only at the end of the source. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** The open descriptor when the source is a local file: file data may then be copied from it directly. */
  readonly fd?: number;
}

/** Which names a tree carries: Rock Ridge (POSIX names, symlinks), Joliet (UCS-2) or plain ECMA-119. */
export type IsoNaming = 'rockridge' | 'joliet' | 'iso9660';

/** A run of bytes of the image holding (part of) a file or directory. */
export interface IsoExtent {
  position: number;
  length: number;
}

/** A file, directory or symlink of the image; paths are relative, "/"-separated, without a leading slash. */
export interface IsoEntry {
  path: string;
  name: string;
  kind: 'file' | 'directory' | 'symlink';
  /** Bytes of file data (0 for symlinks; the directory extent's length for directories). */
  size: number;
  /** Where the data is, in order; several for multi-extent files (ECMA-119 §6.5.1), none when empty. */
  extents: readonly IsoExtent[];
  /** Symlink target as recorded (Rock Ridge SL); may be absolute or leave the image. */
  target?: string;
  mtime?: Date;
  /** POSIX permission and type bits from Rock Ridge PX. */
  mode?: number;
  /** Image byte offset of the directory record, for logs. */
  recordOffset: number;
}

/** Why a directory record was left out of a listing (stable values for logs and tests). */
export const IsoSkipReason = {
  UnsafeName: 'unsafe-name',
  UndecodableName: 'undecodable-name',
  NameTooLong: 'name-too-long',
  DuplicateName: 'duplicate-name',
  SpecialFile: 'special-file',
  Compressed: 'compressed',
  Interleaved: 'interleaved',
  AssociatedFile: 'associated-file',
  UnusableSymlink: 'unusable-symlink',
} as const;

/** One of the IsoSkipReason values. */
export type IsoSkipReason = (typeof IsoSkipReason)[keyof typeof IsoSkipReason];

/** A directory record left out of a listing, and why. */
export interface IsoSkip {
  /** Path of the directory holding the record. */
  directory: string;
  /** The name as far as it could be decoded, with control characters escaped; for logs only. */
  name: string;
  reason: IsoSkipReason;
  detail: string;
  recordOffset: number;
}

/** Bounds on the work one image may cause. */
export interface IsoLimits {
  /** Directory levels below the root. */
  maxDepth: number;
  /** Entries one walk() yields. */
  maxEntries: number;
  /** Bytes of one directory extent (read whole, so this bounds memory). */
  maxDirectoryBytes: number;
  /** Continuation areas one record may chain (Linux's RR_MAX_CE_ENTRIES is 32). */
  maxContinuationAreas: number;
}

/** Limits used when the caller gives none: far above real distribution images, far below harm. */
export const DEFAULT_ISO_LIMITS: Readonly<IsoLimits> = {
  maxDepth: 128,
  maxEntries: 1_000_000,
  maxDirectoryBytes: 64 * 1024 * 1024,
  maxContinuationAreas: 32,
};

/** Options of openIsoImage. */
export interface OpenIsoOptions {
  /** Which tree to read; 'auto' (default) picks Rock Ridge, else Joliet, else plain names. */
  naming?: IsoNaming | 'auto';
  limits?: Partial<IsoLimits>;
  /** Told about every record left out of a listing (unsafe names, devices, duplicates…). */
  onSkip?: (skip: IsoSkip) => void;
}

/** Options of IsoImage.lookup. */
export interface IsoLookupOptions {
  /** Match names ignoring case; an exact match wins, several inexact ones are an AmbiguousName error. */
  caseInsensitive?: boolean;
}

/** Options of IsoImage.readFile: a byte range of the file and the chunk size. */
export interface IsoReadOptions {
  offset?: number;
  length?: number;
  /** Largest chunk yielded; 1 MiB by default (few reads, bounded memory). */
  chunkSize?: number;
}

const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Linux NAME_MAX: the ingest layer writes these names to disk. */
const MAX_NAME_BYTES = 255;
// POSIX file type bits of st_mode, as Rock Ridge PX records them (RRIP 1.12 §4.1.1).
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
// Continuation areas are read through a small cache of 64 KiB windows: libisofs and mkisofs put them in
// the blocks right after the directory, so one read serves a whole directory's worth of CE entries.
const CACHE_WINDOW = 64 * 1024;
const CACHE_WINDOWS = 8;
// A descriptor set longer than this is garbage (real images have 2 to 6 descriptors).
const MAX_DESCRIPTORS = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Decodes Rock Ridge and plain names (bytes, which Linux and xorriso treat as UTF-8); undefined when invalid. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Reads the volume descriptors of `source` and returns the image, reading the tree `options.naming` picks. */
export async function openIsoImage(source: RandomAccessSource, options: OpenIsoOptions = {}): Promise<IsoImage> {
  const reader = new BlockReader(source);
  let primary: TreeDescriptor | undefined;
  let joliet: TreeDescriptor | undefined;
  let index = 0;
  for (; ; index++) {
    if (index === MAX_DESCRIPTORS) {
      throw new IsoError(IsoErrorCode.BadVolumeDescriptor, (FIRST_DESCRIPTOR_SECTOR + index) * LOGICAL_SECTOR_SIZE, `no terminator among the first ${MAX_DESCRIPTORS} volume descriptors`);
    }
    const offset = (FIRST_DESCRIPTOR_SECTOR + index) * LOGICAL_SECTOR_SIZE;
    const descriptor = decodeVolumeDescriptor(await reader.readCached(offset, LOGICAL_SECTOR_SIZE), offset, index === 0);
    if (descriptor.type === VolumeDescriptorType.Terminator) break;
    if (descriptor.tree?.kind === 'primary') primary ??= descriptor.tree;
    if (descriptor.tree?.kind === 'joliet') joliet ??= descriptor.tree;
  }
  if (!primary) throw new IsoError(IsoErrorCode.BadVolumeDescriptor, FIRST_DESCRIPTOR_SECTOR * LOGICAL_SECTOR_SIZE, 'no primary volume descriptor');
  const limits = { ...DEFAULT_ISO_LIMITS, ...options.limits };
  const descriptorsEnd = (FIRST_DESCRIPTOR_SECTOR + index + 1) * LOGICAL_SECTOR_SIZE;
  const rockRidgeSkip = await detectRockRidge(reader, primary, limits);
  const naming = options.naming ?? 'auto';
  let tree: TreeDescriptor = primary;
  let chosen: IsoNaming = 'iso9660';
  if (naming === 'rockridge' || (naming === 'auto' && rockRidgeSkip !== undefined)) {
    if (rockRidgeSkip === undefined) throw new IsoError(IsoErrorCode.BadSystemUse, primary.root.offset, 'image has no Rock Ridge extension');
    chosen = 'rockridge';
  } else if (naming === 'joliet' || (naming === 'auto' && joliet)) {
    if (!joliet) throw new IsoError(IsoErrorCode.BadVolumeDescriptor, FIRST_DESCRIPTOR_SECTOR * LOGICAL_SECTOR_SIZE, 'image has no Joliet volume descriptor');
    tree = joliet;
    chosen = 'joliet';
  }
  return new IsoImage(reader, tree, chosen, rockRidgeSkip ?? 0, descriptorsEnd, limits, options.onSkip);
}

/**
 * Rock Ridge is in use when the first record of the root directory starts its system use field with SP
 * (SUSP 1.12 §5.3) and an ER names RRIP, or, for RRIP 1.09 images without ER, Rock Ridge entries follow.
 * Returns SP's LEN_SKP, or undefined without Rock Ridge.
 */
async function detectRockRidge(reader: BlockReader, primary: TreeDescriptor, limits: IsoLimits): Promise<number | undefined> {
  const position = (primary.root.extentBlock + primary.root.extendedAttributeBlocks) * primary.blockSize;
  const length = Math.min(primary.root.dataLength, LOGICAL_SECTOR_SIZE);
  if (length < 34) throw new IsoError(IsoErrorCode.BadVolumeDescriptor, primary.root.offset, `root directory of ${primary.root.dataLength} bytes`);
  const bytes = await reader.readCached(position, length);
  const self = decodeDirectoryRecord(bytes, 0, position);
  const info = emptySystemUseInfo();
  await reader.readSystemUse(self, 0, primary.blockSize, info, limits);
  if (info.suspSkip === undefined) return undefined;
  const named = info.extensions.some((id) => ROCK_RIDGE_EXTENSION_IDS.has(id));
  return named || (info.extensions.length === 0 && info.rockRidge) ? info.suspSkip : undefined;
}

/** An opened image: its chosen tree and the files in it. */
export class IsoImage {
  /** Which names this image's entries carry. */
  readonly naming: IsoNaming;
  /** The volume identifier of the chosen descriptor. */
  readonly volumeId: string;
  /** The root directory (path ''). */
  readonly root: IsoEntry;
  readonly #reader: BlockReader;
  readonly #blockSize: number;
  readonly #volumeBytes: number;
  readonly #suspSkip: number;
  readonly #descriptorsEnd: number;
  readonly #limits: IsoLimits;
  readonly #onSkip: ((skip: IsoSkip) => void) | undefined;

  /** Use openIsoImage. */
  constructor(
    reader: BlockReader,
    tree: TreeDescriptor,
    naming: IsoNaming,
    suspSkip: number,
    descriptorsEnd: number,
    limits: IsoLimits,
    onSkip: ((skip: IsoSkip) => void) | undefined,
  ) {
    this.#reader = reader;
    this.#blockSize = tree.blockSize;
    this.#volumeBytes = tree.volumeBlocks * tree.blockSize;
    this.#suspSkip = suspSkip;
    this.#descriptorsEnd = descriptorsEnd;
    this.#limits = limits;
    this.#onSkip = onSkip;
    this.naming = naming;
    this.volumeId = tree.volumeId;
    const position = (tree.root.extentBlock + tree.root.extendedAttributeBlocks) * tree.blockSize;
    this.root = {
      path: '',
      name: '',
      kind: 'directory',
      size: tree.root.dataLength,
      extents: [{ position, length: tree.root.dataLength }],
      recordOffset: tree.root.offset,
      ...(tree.root.recorded ? { mtime: tree.root.recorded } : {}),
    };
  }

  /** The entries of one directory, in the order of its records, without "." and "..". */
  async list(directory: IsoEntry = this.root): Promise<IsoEntry[]> {
    const extent = directory.extents[0];
    if (directory.kind !== 'directory' || !extent) throw new TypeError(`${directory.path || '/'} is not a directory`);
    if (extent.length > this.#limits.maxDirectoryBytes) {
      throw new IsoError(IsoErrorCode.LimitExceeded, directory.recordOffset, `directory ${directory.path || '/'} is ${extent.length} bytes, over the limit of ${this.#limits.maxDirectoryBytes}`);
    }
    this.#checkExtent(extent, directory.recordOffset);
    const bytes = await this.#reader.readExact(extent.position, extent.length);
    const records = decodeDirectoryRecords(bytes, extent.position);
    const entries: IsoEntry[] = [];
    const names = new Set<string>();
    let sections: DirectoryRecord[] = [];
    for (const record of records) {
      if (isSelfOrParent(record.identifier)) continue;
      const first = sections[0];
      if (first && !sameBytes(first.identifier, record.identifier)) {
        throw new IsoError(IsoErrorCode.BadDirectoryRecord, record.offset, 'a multi-extent file continues under another name');
      }
      sections.push(record);
      // Every section but the last has the multi-extent flag (ECMA-119 §6.5.1, §9.1.6).
      if (record.flags & FileFlag.MultiExtent) continue;
      const entry = await this.#entry(directory, sections);
      sections = [];
      if (!entry) continue;
      if (names.has(entry.name)) {
        this.#skip(directory, entry.name, IsoSkipReason.DuplicateName, 'another record of this directory has the same name', entry.recordOffset);
        continue;
      }
      names.add(entry.name);
      entries.push(entry);
    }
    if (sections[0]) throw new IsoError(IsoErrorCode.BadDirectoryRecord, sections[0].offset, 'a multi-extent file has no final section');
    return entries;
  }

  /**
   * Every entry below `directory` (the root by default): each directory's entries, then its
   * subdirectories. Throws DirectoryLoop or OverlappingExtent when directories share extents.
   */
  async *walk(directory: IsoEntry = this.root): AsyncGenerator<IsoEntry> {
    const claimed = new ExtentClaims(this.#reader.size, this.#blockSize);
    claimed.reserve(this.#descriptorsEnd);
    const first = directory.extents[0];
    if (first) claimed.claim(first, directory.recordOffset);
    const pending: Array<{ directory: IsoEntry; depth: number }> = [{ directory, depth: 0 }];
    let yielded = 0;
    for (let next = pending.pop(); next; next = pending.pop()) {
      const subdirectories: IsoEntry[] = [];
      for (const entry of await this.list(next.directory)) {
        if (++yielded > this.#limits.maxEntries) {
          throw new IsoError(IsoErrorCode.LimitExceeded, entry.recordOffset, `more than ${this.#limits.maxEntries} entries`);
        }
        // A directory is claimed before it is yielded, so a caller never sees the entry that loops.
        if (entry.kind === 'directory') {
          if (next.depth + 1 > this.#limits.maxDepth) {
            throw new IsoError(IsoErrorCode.LimitExceeded, entry.recordOffset, `directory ${entry.path} is deeper than ${this.#limits.maxDepth} levels`);
          }
          const extent = entry.extents[0];
          if (extent) claimed.claim(extent, entry.recordOffset);
          subdirectories.push(entry);
        }
        yield entry;
      }
      for (let i = subdirectories.length - 1; i >= 0; i--) pending.push({ directory: subdirectories[i] as IsoEntry, depth: next.depth + 1 });
    }
  }

  /** The entry at `path` ("a/b/c", leading and doubled slashes ignored), or undefined; never follows symlinks. */
  async lookup(path: string, options: IsoLookupOptions = {}): Promise<IsoEntry | undefined> {
    const names = path.split('/').filter((name) => name !== '');
    if (names.length > this.#limits.maxDepth + 1) return undefined;
    let current = this.root;
    const ancestors = new Set<number>();
    for (const name of names) {
      if (current.kind !== 'directory' || name === '.' || name === '..') return undefined;
      const position = current.extents[0]?.position ?? -1;
      if (ancestors.has(position)) throw new IsoError(IsoErrorCode.DirectoryLoop, current.recordOffset, `directory ${current.path} is its own ancestor`);
      ancestors.add(position);
      const entries = await this.list(current);
      const exact = entries.find((entry) => entry.name === name);
      if (exact) {
        current = exact;
        continue;
      }
      if (!options.caseInsensitive) return undefined;
      const folded = name.toLowerCase();
      const matches = entries.filter((entry) => entry.name.toLowerCase() === folded);
      if (matches.length > 1) {
        throw new IsoError(IsoErrorCode.AmbiguousName, current.recordOffset, `"${name}" matches ${matches.length} names in ${current.path || '/'} ignoring case`);
      }
      if (!matches[0]) return undefined;
      current = matches[0];
    }
    return current;
  }

  /**
   * Streams a file's data (or a byte range of it) in chunks of at most `chunkSize`; never buffers the file.
   * The next chunk is read while the caller handles the current one, so disk or network and the consumer
   * (hashing, writing) overlap.
   */
  async *readFile(entry: IsoEntry, options: IsoReadOptions = {}): AsyncGenerator<Uint8Array> {
    if (entry.kind !== 'file') throw new TypeError(`${entry.path} is a ${entry.kind}, not a file`);
    const start = options.offset ?? 0;
    const end = Math.min(entry.size, start + (options.length ?? entry.size));
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!(start >= 0 && chunkSize > 0)) throw new RangeError('offset must be ≥ 0 and chunkSize > 0');
    const chunks = chunkRanges(entry.extents, start, end, chunkSize);
    const readNext = (): Promise<Uint8Array> | undefined => {
      const next = chunks.next();
      if (next.done) return undefined;
      const read = this.#reader.readExact(next.value.position, next.value.length);
      // A caller that stops early leaves the read-ahead unawaited; its failure must not become unhandled.
      read.catch(() => undefined);
      return read;
    };
    for (let pending = readNext(); pending; ) {
      const current = pending;
      pending = readNext();
      yield await current;
    }
  }

  /** Builds the entry for one record (or the sections of a multi-extent file); undefined when it is hidden or skipped. */
  async #entry(directory: IsoEntry, sections: readonly DirectoryRecord[]): Promise<IsoEntry | undefined> {
    const record = sections[0] as DirectoryRecord;
    const rawName = this.naming === 'joliet' ? decodeUcs2(record.identifier) : decodeUtf8(record.identifier);
    const printable = rawName ?? escapeName(record.identifier);
    if (record.flags & FileFlag.Associated) {
      this.#skip(directory, printable, IsoSkipReason.AssociatedFile, 'associated file (a resource fork)', record.offset);
      return undefined;
    }
    let name = rawName === undefined ? undefined : stripVersion(rawName, (record.flags & FileFlag.Directory) !== 0, this.naming === 'joliet');
    let kind: IsoEntry['kind'] = record.flags & FileFlag.Directory ? 'directory' : 'file';
    let mtime = record.recorded;
    let mode: number | undefined;
    let target: string | undefined;
    let extents = sections.map((section) => this.#extentOf(section));
    if (this.naming === 'rockridge') {
      const info = emptySystemUseInfo();
      await this.#reader.readSystemUse(record, this.#suspSkip, this.#blockSize, info, this.#limits);
      // RE: the real place of this directory is the CL record pointing here (RRIP 1.12 §4.1.5.3).
      if (info.relocated) return undefined;
      if (info.nameParts.length > 0) {
        if (info.nameFlags & (RockRidgeFlag.Current | RockRidgeFlag.Parent | RockRidgeFlag.Host)) {
          this.#skip(directory, printable, IsoSkipReason.UnsafeName, 'NM names ".", ".." or the host', record.offset);
          return undefined;
        }
        name = decodeUtf8(concat(info.nameParts));
      }
      mtime = info.modified ?? mtime;
      mode = info.mode;
      const type = mode === undefined ? undefined : mode & S_IFMT;
      if (info.device || (type !== undefined && type !== S_IFDIR && type !== S_IFREG && type !== S_IFLNK)) {
        this.#skip(directory, name ?? printable, IsoSkipReason.SpecialFile, `device, FIFO or socket (mode ${mode?.toString(8)})`, record.offset);
        return undefined;
      }
      if (info.zisofs) {
        this.#skip(directory, name ?? printable, IsoSkipReason.Compressed, 'zisofs-compressed data is not supported', record.offset);
        return undefined;
      }
      if (info.childLink !== undefined) {
        // CL: this file record stands for a directory relocated elsewhere (RRIP 1.12 §4.1.5.1); its size is
        // the data length of that directory's "." record.
        const position = info.childLink * this.#blockSize;
        // A record is at most 255 bytes (its length is one byte).
        const head = await this.#reader.readCached(position, Math.max(0, Math.min(255, this.#reader.size - position)));
        if (head.length === 0) throw new IsoError(IsoErrorCode.ExtentOutOfRange, record.offset, `CL points past the image, to block ${info.childLink}`);
        const self = decodeDirectoryRecord(head, 0, position);
        kind = 'directory';
        extents = [{ position, length: self.dataLength }];
      } else if (info.symlink || type === S_IFLNK) {
        const resolved = symlinkTarget(info.symlink ?? [], decodeUtf8);
        if (typeof resolved !== 'string') {
          this.#skip(directory, name ?? printable, IsoSkipReason.UnusableSymlink, resolved.unusable, record.offset);
          return undefined;
        }
        kind = 'symlink';
        target = resolved;
        extents = [];
      }
    }
    if (name === undefined) {
      this.#skip(directory, printable, IsoSkipReason.UndecodableName, this.naming === 'joliet' ? 'name is not valid UCS-2' : 'name is not valid UTF-8', record.offset);
      return undefined;
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      this.#skip(directory, escapeName(utf8Encoder.encode(name)), IsoSkipReason.UnsafeName, 'name is empty, "." or "..", or contains "/" or NUL', record.offset);
      return undefined;
    }
    if (utf8Encoder.encode(name).length > MAX_NAME_BYTES) {
      this.#skip(directory, name.slice(0, 64), IsoSkipReason.NameTooLong, `name is longer than ${MAX_NAME_BYTES} bytes`, record.offset);
      return undefined;
    }
    if (kind === 'file' && sections.some((section) => section.fileUnitSize !== 0 || section.interleaveGap !== 0)) {
      this.#skip(directory, name, IsoSkipReason.Interleaved, 'interleaved files are not supported', record.offset);
      return undefined;
    }
    if (kind === 'directory' && sections.length > 1) {
      throw new IsoError(IsoErrorCode.BadDirectoryRecord, record.offset, 'a directory has several extents');
    }
    // Empty sections carry arbitrary locations (mkisofs and libisofs point them at block 0 or past the
    // end), so only sections with data are placed in the image.
    const placed = kind === 'directory' ? extents : extents.filter((extent) => extent.length > 0);
    for (const extent of placed) this.#checkExtent(extent, record.offset);
    if (kind === 'file') checkSectionsApart(placed, record.offset);
    const size = kind === 'symlink' ? 0 : placed.reduce((total, extent) => total + extent.length, 0);
    return {
      path: directory.path === '' ? name : `${directory.path}/${name}`,
      name,
      kind,
      size,
      extents: placed,
      recordOffset: record.offset,
      ...(target !== undefined ? { target } : {}),
      ...(mtime ? { mtime } : {}),
      ...(mode !== undefined ? { mode } : {}),
    };
  }

  /** Where a record's data starts: after its extended attribute record (ECMA-119 §6.5.1, §9.1.2). */
  #extentOf(record: DirectoryRecord): IsoExtent {
    return { position: (record.extentBlock + record.extendedAttributeBlocks) * this.#blockSize, length: record.dataLength };
  }

  /** An extent past the end of the source is a truncated image when the volume claims it, otherwise garbage. */
  #checkExtent(extent: IsoExtent, recordOffset: number): void {
    const end = extent.position + extent.length;
    if (end <= this.#reader.size) return;
    if (end <= this.#volumeBytes) {
      throw new IsoError(IsoErrorCode.Truncated, recordOffset, `extent ends at byte ${end}, past the end of the ${this.#reader.size}-byte image`);
    }
    throw new IsoError(IsoErrorCode.ExtentOutOfRange, recordOffset, `extent ends at byte ${end}, past the volume and the image`);
  }

  #skip(directory: IsoEntry, name: string, reason: IsoSkipReason, detail: string, recordOffset: number): void {
    this.#onSkip?.({ directory: directory.path, name, reason, detail, recordOffset });
  }
}

/** Reads from the source: exact reads for data and directories, a small window cache for continuation areas. */
class BlockReader {
  readonly size: number;
  readonly #source: RandomAccessSource;
  readonly #windows = new Map<number, Uint8Array>();

  constructor(source: RandomAccessSource) {
    this.#source = source;
    this.size = source.size;
  }

  /** Exactly `length` bytes at `position`, or a Truncated error. */
  async readExact(position: number, length: number): Promise<Uint8Array> {
    if (position + length > this.size) {
      throw new IsoError(IsoErrorCode.Truncated, this.size, `needs bytes up to ${position + length} of a ${this.size}-byte image`);
    }
    const bytes = await this.#source.read(position, length);
    if (bytes.length < length) throw new IsoError(IsoErrorCode.Truncated, position + bytes.length, 'image ends early (short read)');
    return bytes.length === length ? bytes : bytes.subarray(0, length);
  }

  /** Small reads (descriptors, continuation areas) through 64 KiB windows, the last few kept. */
  async readCached(position: number, length: number): Promise<Uint8Array> {
    const windowStart = Math.floor(position / CACHE_WINDOW) * CACHE_WINDOW;
    if (position + length > windowStart + CACHE_WINDOW) return this.readExact(position, length);
    let window = this.#windows.get(windowStart);
    if (!window) {
      if (position + length > this.size) {
        throw new IsoError(IsoErrorCode.Truncated, this.size, `needs bytes up to ${position + length} of a ${this.size}-byte image`);
      }
      window = await this.readExact(windowStart, Math.min(CACHE_WINDOW, this.size - windowStart));
      if (this.#windows.size >= CACHE_WINDOWS) this.#windows.delete(this.#windows.keys().next().value as number);
      this.#windows.set(windowStart, window);
    }
    if (position + length > windowStart + window.length) {
      throw new IsoError(IsoErrorCode.Truncated, windowStart + window.length, `needs bytes up to ${position + length} of a ${this.size}-byte image`);
    }
    return window.subarray(position - windowStart, position - windowStart + length);
  }

  /**
   * Decodes a record's system use field (after `skip` bytes, SUSP 1.12 §5.3) and the chain of continuation
   * areas it points to. A continuation area must lie inside one logical block, as Linux requires, and a chain
   * is bounded and must not revisit an area.
   */
  async readSystemUse(record: DirectoryRecord, skip: number, blockSize: number, info: SystemUseInfo, limits: IsoLimits): Promise<void> {
    let next = decodeSystemUseArea(record.systemUse.subarray(skip), record.systemUseOffset + skip, info);
    const seen = new Set<number>();
    while (next) {
      if (seen.size >= limits.maxContinuationAreas) {
        throw new IsoError(IsoErrorCode.LimitExceeded, next.entryOffset, `more than ${limits.maxContinuationAreas} continuation areas for one record`);
      }
      if (next.offset + next.length > blockSize || next.length === 0) {
        throw new IsoError(IsoErrorCode.BadSystemUse, next.entryOffset, `continuation area of ${next.length} bytes at offset ${next.offset} does not fit one block`);
      }
      const position = next.block * blockSize + next.offset;
      if (seen.has(position)) throw new IsoError(IsoErrorCode.ContinuationLoop, next.entryOffset, 'continuation areas loop');
      seen.add(position);
      if (position + next.length > this.size) {
        throw new IsoError(IsoErrorCode.ExtentOutOfRange, next.entryOffset, `continuation area ends at byte ${position + next.length}, past the image`);
      }
      next = decodeSystemUseArea(await this.readCached(position, next.length), position, info);
    }
  }
}

/**
 * Directory extents claimed during one walk; a second claim on any block is a loop (same start) or an
 * overlap. A bitmap of the image's blocks keeps each claim's cost to its own length, so a hostile image
 * costs at most one pass over its blocks, whatever order its directories come in.
 */
class ExtentClaims {
  readonly #blockSize: number;
  readonly #claimed: Uint8Array;
  readonly #starts = new Set<number>();

  constructor(imageBytes: number, blockSize: number) {
    this.#blockSize = blockSize;
    this.#claimed = new Uint8Array(Math.ceil(imageBytes / blockSize / 8));
  }

  /** Marks the system area and volume descriptors, where no directory may start or reach. */
  reserve(bytes: number): void {
    const end = Math.min(Math.ceil(bytes / this.#blockSize), this.#claimed.length * 8);
    for (let block = 0; block < end; block++) this.#claimed[block >>> 3] = (this.#claimed[block >>> 3] as number) | (1 << (block & 7));
  }

  claim(extent: IsoExtent, recordOffset: number): void {
    const first = Math.floor(extent.position / this.#blockSize);
    // Directory extents are whole logical blocks (ECMA-119 §6.6); an empty one still owns its first block.
    const end = Math.min(Math.ceil((extent.position + Math.max(extent.length, 1)) / this.#blockSize), this.#claimed.length * 8);
    if (this.#starts.has(first)) throw new IsoError(IsoErrorCode.DirectoryLoop, recordOffset, `directory at byte ${extent.position} is reached twice`);
    for (let block = first; block < end; block++) {
      if ((this.#claimed[block >>> 3] as number) & (1 << (block & 7))) {
        throw new IsoError(IsoErrorCode.OverlappingExtent, recordOffset, `directory extent at byte ${extent.position} overlaps another directory or the volume descriptors`);
      }
    }
    for (let block = first; block < end; block++) this.#claimed[block >>> 3] = (this.#claimed[block >>> 3] as number) | (1 << (block & 7));
    this.#starts.add(first);
  }
}

/** The image ranges holding bytes [start, end) of a file made of `extents`, cut into chunks. */
export function* chunkRanges(extents: readonly IsoExtent[], start: number, end: number, chunkSize: number): Generator<IsoExtent> {
  let fileOffset = 0;
  for (const extent of extents) {
    const from = Math.max(start, fileOffset);
    const to = Math.min(end, fileOffset + extent.length);
    for (let at = from; at < to; at += chunkSize) {
      yield { position: extent.position + (at - fileOffset), length: Math.min(chunkSize, to - at) };
    }
    fileOffset += extent.length;
  }
}

/** The sections of one file must not share bytes (a hostile image could repeat one section endlessly). */
function checkSectionsApart(extents: readonly IsoExtent[], recordOffset: number): void {
  if (extents.length < 2) return;
  const sorted = [...extents].sort((a, b) => a.position - b.position);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as IsoExtent;
    if (previous.position + previous.length > (sorted[i] as IsoExtent).position) {
      throw new IsoError(IsoErrorCode.OverlappingExtent, recordOffset, 'sections of a multi-extent file overlap');
    }
  }
}

/**
 * Plain ECMA-119 file names end in a version (";1", §7.5.1) and names without an extension keep the
 * separator dot ("README.;1"); both go, as xorriso's default -ecma119_map "stripped" does. Joliet names
 * from mkisofs carry the version too, but a Joliet dot is part of the name (xorriso keeps "name.").
 */
function stripVersion(name: string, directory: boolean, joliet: boolean): string {
  if (directory) return name;
  const semicolon = name.lastIndexOf(';');
  const base = semicolon >= 0 && /^\d+$/.test(name.slice(semicolon + 1)) ? name.slice(0, semicolon) : name;
  return !joliet && base.endsWith('.') && base.length > 1 ? base.slice(0, -1) : base;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

/** Printable form of raw name bytes for logs: ASCII kept, anything else as \xNN. */
function escapeName(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes.subarray(0, 128)) text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return text;
}
