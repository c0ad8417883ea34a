// Debian binary packages (.deb): the ar member headers and which member holds the files (data.tar.*). Pure.
//
// deb(5): a .deb is an ar archive with the magic "!<arch>\n" and only the common ar format (no long-name
// extensions; a name may end in "/", so at most 15 characters); sizes are 10 ASCII decimal digits. The members come
// in this order: debian-binary ("2.0\n"), control.tar[.gz|.xz|.zst], data.tar[.gz|.xz|.zst|.bz2|.lzma]; members
// whose names start with "_" may come between them and are ignored, and anything after data.tar is ignored.
// ar(5) (the common format): each member is a 60-byte header — name 16, mtime 12, uid 6, gid 6, mode 8 (octal),
// size 10 (decimal), then the two bytes "`\n" — followed by the data, padded with "\n" to an even offset.

/** The ar magic that begins every .deb. */
export const AR_MAGIC = '!<arch>\n';
/** The magic plus the first member's name: what archive-type detection looks for. */
export const DEB_MAGIC = `${AR_MAGIC}debian-binary`;
/** The size of one ar member header. */
export const AR_HEADER_BYTES = 60;
/** A real .deb has 3 members (a signed one 4); more than this is not a package. */
export const MAX_DEB_MEMBERS = 8;
/** debian-binary is "2.0\n"; a few lines more would be a future format, far more is not a package. */
export const MAX_DEBIAN_BINARY_BYTES = 64;

/** A .deb that cannot be read: what is wrong and at which byte of the file. */
export class DebArchiveError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'DebArchiveError';
    this.offset = offset;
  }
}

/** One ar member: its name (without the optional trailing "/"), where its data starts and its size. */
export interface ArMember {
  name: string;
  dataOffset: number;
  size: number;
  /** Where the next header starts (the data padded to an even offset). */
  next: number;
}

/** How data.tar is compressed, from its member name. */
export type DebDataCompression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma';

const DATA_NAMES: Readonly<Record<string, DebDataCompression>> = {
  'data.tar': 'none',
  'data.tar.gz': 'gzip',
  'data.tar.xz': 'xz',
  'data.tar.zst': 'zstd',
  'data.tar.bz2': 'bzip2',
  'data.tar.lzma': 'lzma',
};
const CONTROL_NAME = /^control\.tar(\.(gz|xz|zst))?$/;
// The characters of the member names deb(5) defines or reserves ("_" members); anything else is not a package.
const MEMBER_NAME = /^[A-Za-z0-9_.+-]{1,15}$/;

/** Whether `head` starts with the ar magic; the file offset of the first header is then AR_MAGIC.length. */
export function hasArMagic(head: Uint8Array): boolean {
  return head.length >= AR_MAGIC.length && [...AR_MAGIC].every((c, i) => head[i] === c.charCodeAt(0));
}

/**
 * Decodes the 60-byte header at file offset `offset` of a file of `fileSize` bytes; throws DebArchiveError for a short
 * header, a wrong terminator, an odd name, a size that is not decimal digits, or data reaching past the end of the file.
 */
export function decodeArMemberHeader(header: Uint8Array, offset: number, fileSize: number): ArMember {
  if (header.length < AR_HEADER_BYTES) throw new DebArchiveError('the ar member header is cut short', offset);
  const text = (from: number, length: number): string => String.fromCharCode(...header.subarray(from, from + length));
  if (text(58, 2) !== '`\n') throw new DebArchiveError('the ar member header does not end in "`\\n"', offset + 58);
  const rawName = text(0, 16).replace(/ +$/, '');
  const name = rawName.endsWith('/') ? rawName.slice(0, -1) : rawName;
  if (!MEMBER_NAME.test(name)) throw new DebArchiveError(`the ar member name ${JSON.stringify(rawName)} is not one a Debian package has`, offset);
  const sizeField = text(48, 10).replace(/ +$/, '');
  if (!/^\d{1,10}$/.test(sizeField)) throw new DebArchiveError(`the size of ar member ${name} is ${JSON.stringify(sizeField)}, not a decimal number`, offset + 48);
  const size = Number(sizeField);
  const dataOffset = offset + AR_HEADER_BYTES;
  if (dataOffset + size > fileSize) throw new DebArchiveError(`ar member ${name} is ${size} bytes long but the file ends ${fileSize - dataOffset} bytes after its header`, offset + 48);
  return { name, dataOffset, size, next: dataOffset + size + (size % 2) };
}

/**
 * Checks the members read so far against deb(5)'s order and says what comes next: 'more' to read another header,
 * or the data.tar member with its compression. Throws DebArchiveError when the order is wrong or there are too many.
 */
export function nextDebStep(members: readonly ArMember[]): { kind: 'more' } | { kind: 'data'; member: ArMember; compression: DebDataCompression } {
  const last = members[members.length - 1];
  if (members.length > MAX_DEB_MEMBERS) throw new DebArchiveError(`the package has more than ${MAX_DEB_MEMBERS} ar members before data.tar`, last!.dataOffset - AR_HEADER_BYTES);
  if (!last) return { kind: 'more' };
  const at = last.dataOffset - AR_HEADER_BYTES;
  const named = members.filter((member) => !member.name.startsWith('_'));
  const position = named.length;
  if (last.name.startsWith('_')) {
    if (members.length === 1) throw new DebArchiveError(`the first ar member is ${last.name}, not debian-binary`, at);
    return { kind: 'more' };
  }
  if (position === 1) {
    if (last.name !== 'debian-binary') throw new DebArchiveError(`the first ar member is ${last.name}, not debian-binary`, at);
    return { kind: 'more' };
  }
  if (position === 2) {
    if (!CONTROL_NAME.test(last.name)) throw new DebArchiveError(`the second ar member is ${last.name}, not control.tar`, at);
    return { kind: 'more' };
  }
  const compression = DATA_NAMES[last.name];
  if (compression === undefined) throw new DebArchiveError(`the third ar member is ${last.name}, not data.tar`, at);
  return { kind: 'data', member: last, compression };
}

/** Checks debian-binary's content: format 2.x (deb(5): readers accept a higher minor number and more lines). */
export function checkDebianBinary(content: Uint8Array, offset: number): void {
  const version = String.fromCharCode(...content.subarray(0, MAX_DEBIAN_BINARY_BYTES)).split('\n')[0]!;
  if (!/^2\.\d{1,4}$/.test(version)) throw new DebArchiveError(`debian-binary says format ${JSON.stringify(version.slice(0, 20))}, not 2.x`, offset);
}

/** The bytes of a .deb by position (a RandomAccessSource): all locateDebData reads. */
export interface DebBytes {
  readonly size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

/**
 * Walks the ar headers of a .deb to its data.tar member (at most MAX_DEB_MEMBERS headers, each checked against the
 * file's size, reading 60 bytes per header and debian-binary's few bytes) and returns it with its compression;
 * throws DebArchiveError when the file is not a Debian package.
 */
export async function locateDebData(source: DebBytes): Promise<{ member: ArMember; compression: DebDataCompression }> {
  const magic = await source.read(0, AR_MAGIC.length);
  if (!hasArMagic(magic)) throw new DebArchiveError('the file does not start with the ar magic "!<arch>"', 0);
  const members: ArMember[] = [];
  for (let offset = AR_MAGIC.length; ; ) {
    if (offset >= source.size) throw new DebArchiveError('the package ends before its data.tar member', offset);
    const member = decodeArMemberHeader(await source.read(offset, AR_HEADER_BYTES), offset, source.size);
    members.push(member);
    const step = nextDebStep(members);
    if (step.kind === 'data') return { member: step.member, compression: step.compression };
    if (members.length === 1) checkDebianBinary(await source.read(member.dataOffset, Math.min(member.size, MAX_DEBIAN_BINARY_BYTES)), member.dataOffset);
    offset = member.next;
  }
}
