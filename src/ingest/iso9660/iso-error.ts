// The one error the ISO 9660 reader throws for anything wrong with an image. Pure: no I/O.

/** Stable codes of IsoError, for callers and logs to branch on (never the message text). */
export const IsoErrorCode = {
  /** The image ends before a structure or extent it describes (a short read or a too-small source). */
  Truncated: 'ISO_TRUNCATED',
  /** No ISO 9660 volume descriptor set at logical sector 16. */
  NotIso9660: 'ISO_NOT_ISO9660',
  /** A volume descriptor is malformed (block size, root record, missing terminator). */
  BadVolumeDescriptor: 'ISO_BAD_VOLUME_DESCRIPTOR',
  /** A directory record is malformed (lengths, sector crossing, multi-extent chain). */
  BadDirectoryRecord: 'ISO_BAD_DIRECTORY_RECORD',
  /** A System Use Sharing Protocol / Rock Ridge entry is malformed. */
  BadSystemUse: 'ISO_BAD_SYSTEM_USE',
  /** An extent points past the end of the volume and of the image. */
  ExtentOutOfRange: 'ISO_EXTENT_OUT_OF_RANGE',
  /** Two directory extents (or two sections of one file) share bytes, or a directory overlaps the descriptors. */
  OverlappingExtent: 'ISO_OVERLAPPING_EXTENT',
  /** A directory reached twice: a loop through directory records or Rock Ridge child links. */
  DirectoryLoop: 'ISO_DIRECTORY_LOOP',
  /** A chain of SUSP continuation areas (CE) comes back to an area already read. */
  ContinuationLoop: 'ISO_CONTINUATION_LOOP',
  /** A bound on work was reached (depth, entries, directory size, CE chain length). */
  LimitExceeded: 'ISO_LIMIT_EXCEEDED',
  /** A case-insensitive lookup matches several names and none exactly. */
  AmbiguousName: 'ISO_AMBIGUOUS_NAME',
} as const;

/** One of the IsoError codes. */
export type IsoErrorCode = (typeof IsoErrorCode)[keyof typeof IsoErrorCode];

/** The only error the reader throws for a bad image: what is wrong (code) and at which image byte (offset). */
export class IsoError extends Error {
  readonly code: IsoErrorCode;
  readonly offset: number;

  constructor(code: IsoErrorCode, offset: number, message: string) {
    super(`${message} at image byte ${offset}`);
    this.name = 'IsoError';
    this.code = code;
    this.offset = offset;
  }
}
