// ECMA-119 (ISO 9660) structures: volume descriptors and directory records. Pure: bytes in, typed values
// out, an IsoError with the image byte offset for anything malformed.
import { IsoError, IsoErrorCode } from './iso-error.ts';

/** A logical sector is always 2048 bytes (ECMA-119 §6.1.2); volume descriptors and directory sectors use it. */
export const LOGICAL_SECTOR_SIZE = 2048;

/** The volume descriptor set starts at logical sector 16, after the system area (ECMA-119 §6.2.1, §6.7.1). */
export const FIRST_DESCRIPTOR_SECTOR = 16;

/** Volume descriptor types (ECMA-119 §8.1.1). */
export const VolumeDescriptorType = {
  BootRecord: 0,
  Primary: 1,
  Supplementary: 2,
  Partition: 3,
  Terminator: 255,
} as const;

/** File flags of a directory record (ECMA-119 §9.1.6). */
export const FileFlag = {
  Hidden: 0x01,
  Directory: 0x02,
  Associated: 0x04,
  Record: 0x08,
  Protection: 0x10,
  MultiExtent: 0x80,
} as const;

/** One directory record (ECMA-119 §9.1); `identifier` and `systemUse` are views into the directory bytes. */
export interface DirectoryRecord {
  /** Image byte offset of the record, for errors. */
  offset: number;
  extentBlock: number;
  extendedAttributeBlocks: number;
  dataLength: number;
  recorded: Date | undefined;
  flags: number;
  fileUnitSize: number;
  interleaveGap: number;
  identifier: Uint8Array;
  systemUse: Uint8Array;
  /** Image byte offset of the system use area. */
  systemUseOffset: number;
}

/** A volume descriptor whose directory tree the reader can walk: the primary one or a Joliet supplementary one. */
export interface TreeDescriptor {
  kind: 'primary' | 'joliet';
  volumeId: string;
  blockSize: number;
  volumeBlocks: number;
  root: DirectoryRecord;
}

/** A decoded volume descriptor: its type, and the tree it describes when it is primary or Joliet. */
export interface VolumeDescriptor {
  type: number;
  tree: TreeDescriptor | undefined;
}

const MIN_RECORD_LENGTH = 34;

/** Decodes the volume descriptor in one 2048-byte sector found at image byte `offset`. */
export function decodeVolumeDescriptor(sector: Uint8Array, offset: number, first: boolean): VolumeDescriptor {
  if (sector.length < LOGICAL_SECTOR_SIZE) {
    throw new IsoError(IsoErrorCode.Truncated, offset + sector.length, 'volume descriptor is cut short');
  }
  // Standard identifier "CD001" (ECMA-119 §8.1.2).
  if (sector[1] !== 0x43 || sector[2] !== 0x44 || sector[3] !== 0x30 || sector[4] !== 0x30 || sector[5] !== 0x31) {
    throw first
      ? new IsoError(IsoErrorCode.NotIso9660, offset + 1, 'no "CD001" volume descriptor at sector 16: not an ISO 9660 image')
      : new IsoError(IsoErrorCode.BadVolumeDescriptor, offset + 1, 'volume descriptor set ends without a terminator');
  }
  const type = sector[0] as number;
  const primary = type === VolumeDescriptorType.Primary;
  // Joliet marks a supplementary descriptor with the escape sequence %/@, %/C or %/E (Joliet spec §4.2).
  const joliet =
    type === VolumeDescriptorType.Supplementary &&
    sector[6] === 1 &&
    sector[88] === 0x25 &&
    sector[89] === 0x2f &&
    (sector[90] === 0x40 || sector[90] === 0x43 || sector[90] === 0x45);
  if (!primary && !joliet) return { type, tree: undefined };
  // Logical block size (ECMA-119 §8.4.12): 2^n, at least 512 and at most the sector size (§6.2.2).
  const blockSize = readUint16(sector, 128);
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) {
    throw new IsoError(IsoErrorCode.BadVolumeDescriptor, offset + 128, `logical block size ${blockSize} is not 512, 1024 or 2048`);
  }
  const root = decodeDirectoryRecord(sector, 156, offset + 156);
  if (sector[156] !== MIN_RECORD_LENGTH || (root.flags & FileFlag.Directory) === 0) {
    throw new IsoError(IsoErrorCode.BadVolumeDescriptor, offset + 156, 'root directory record is not a 34-byte directory record');
  }
  const volumeId = joliet ? decodeUcs2(sector.subarray(40, 72)) : latin1(sector.subarray(40, 72));
  return {
    type,
    tree: {
      kind: primary ? 'primary' : 'joliet',
      volumeId: (volumeId ?? '').trimEnd(),
      blockSize,
      volumeBlocks: readUint32(sector, 80),
      root,
    },
  };
}

/** Decodes the directory record at `at` in `bytes` (which start at image byte `imageOffset - at`). */
export function decodeDirectoryRecord(bytes: Uint8Array, at: number, imageOffset: number): DirectoryRecord {
  const length = bytes[at] as number;
  if (length < MIN_RECORD_LENGTH || at + length > bytes.length) {
    throw new IsoError(IsoErrorCode.BadDirectoryRecord, imageOffset, `directory record length ${length} does not fit`);
  }
  const identifierLength = bytes[at + 32] as number;
  if (33 + identifierLength > length || identifierLength === 0) {
    throw new IsoError(IsoErrorCode.BadDirectoryRecord, imageOffset + 32, `file identifier length ${identifierLength} does not fit record of ${length}`);
  }
  // An even identifier length is followed by one padding byte before the system use area (ECMA-119 §9.1.12).
  const systemUseStart = Math.min(length, 33 + identifierLength + (identifierLength % 2 === 0 ? 1 : 0));
  return {
    offset: imageOffset,
    extentBlock: readUint32(bytes, at + 2),
    extendedAttributeBlocks: bytes[at + 1] as number,
    dataLength: readUint32(bytes, at + 10),
    recorded: decodeShortDate(bytes, at + 18),
    flags: bytes[at + 25] as number,
    fileUnitSize: bytes[at + 26] as number,
    interleaveGap: bytes[at + 27] as number,
    identifier: bytes.subarray(at + 33, at + 33 + identifierLength),
    systemUse: bytes.subarray(at + systemUseStart, at + length),
    systemUseOffset: imageOffset + systemUseStart,
  };
}

/**
 * Decodes every record of a directory extent read whole into `bytes` (starting at image byte `imageOffset`).
 * A record never crosses a logical sector; a zero length byte means the rest of the sector is padding
 * (ECMA-119 §6.8.1.1).
 */
export function decodeDirectoryRecords(bytes: Uint8Array, imageOffset: number): DirectoryRecord[] {
  const records: DirectoryRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = bytes[at] as number;
    const sectorEnd = (Math.floor((imageOffset + at) / LOGICAL_SECTOR_SIZE) + 1) * LOGICAL_SECTOR_SIZE - imageOffset;
    if (length === 0) {
      at = sectorEnd;
      continue;
    }
    if (at + length > Math.min(sectorEnd, bytes.length)) {
      throw new IsoError(IsoErrorCode.BadDirectoryRecord, imageOffset + at, `directory record of ${length} bytes crosses a sector or the directory end`);
    }
    records.push(decodeDirectoryRecord(bytes, at, imageOffset + at));
    at += length;
  }
  return records;
}

/** True for the identifiers of the "." (0x00) and ".." (0x01) records (ECMA-119 §6.8.2.2). */
export function isSelfOrParent(identifier: Uint8Array): boolean {
  return identifier.length === 1 && (identifier[0] === 0 || identifier[0] === 1);
}

/** Reads the little-endian half of a both-byte-order 32-bit field (ECMA-119 §7.3.3), as Linux does. */
export function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)) + (bytes[at + 3] as number) * 0x1000000;
}

function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) | ((bytes[at + 1] as number) << 8);
}

/** Decodes the 7-byte recording date (ECMA-119 §9.1.5); all zeros or out-of-range fields mean "not recorded". */
export function decodeShortDate(bytes: Uint8Array, at: number): Date | undefined {
  const month = bytes[at + 1] as number;
  const day = bytes[at + 2] as number;
  const hour = bytes[at + 3] as number;
  const minute = bytes[at + 4] as number;
  const second = bytes[at + 5] as number;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Offset from GMT in 15-minute steps, signed (-48 to +52).
  const gmtOffset = ((bytes[at + 6] as number) << 24) >> 24;
  return new Date(Date.UTC(1900 + (bytes[at] as number), month - 1, day, hour, minute, second) - gmtOffset * 15 * 60_000);
}

/** Decodes the 17-byte digit date (ECMA-119 §8.4.26.1) used by long-form Rock Ridge TF entries. */
export function decodeLongDate(bytes: Uint8Array, at: number): Date | undefined {
  const field = (start: number, digits: number): number => {
    let value = 0;
    for (let i = at + start; i < at + start + digits; i++) {
      const digit = (bytes[i] as number) - 0x30;
      if (digit < 0 || digit > 9) return Number.NaN;
      value = value * 10 + digit;
    }
    return value;
  };
  const year = field(0, 4);
  const month = field(4, 2);
  const day = field(6, 2);
  const hour = field(8, 2);
  const minute = field(10, 2);
  const second = field(12, 2);
  const hundredths = field(14, 2);
  if (!(year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59 && hundredths <= 99)) {
    return undefined;
  }
  const gmtOffset = ((bytes[at + 16] as number) << 24) >> 24;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, hundredths * 10) - gmtOffset * 15 * 60_000);
}

const ucs2 = new TextDecoder('utf-16be', { fatal: true });

/** Decodes a Joliet UCS-2 big-endian name; undefined when it is not well-formed UTF-16. */
export function decodeUcs2(bytes: Uint8Array): string | undefined {
  if (bytes.length % 2 !== 0) return undefined;
  try {
    return ucs2.decode(bytes);
  } catch {
    return undefined;
  }
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}
