// The one error class ingest throws for problems a user can fix; callers branch on `code`, never on text.

/** Stable codes of IngestError. */
export const IngestErrorCode = {
  /** The server answered 404 (or 410) for the download. */
  NotFound: 'INGEST_NOT_FOUND',
  /** Any other HTTP status that is not worth retrying (403, 401, 400, …). */
  HttpStatus: 'INGEST_HTTP_STATUS',
  /** The host name of the URL does not resolve. */
  Dns: 'INGEST_DNS',
  /** The TLS handshake failed: untrusted, expired or mismatched certificate. */
  Tls: 'INGEST_TLS',
  /** The connection failed in a way that retrying will not fix (refused, unreachable). */
  Connection: 'INGEST_CONNECTION',
  /** Transient failures (resets, timeouts, 5xx, 429) went on past the last retry. */
  RetriesExhausted: 'INGEST_RETRIES_EXHAUSTED',
  /** The archive's digest is not the one images.yaml (or the checksum list) expects. */
  ChecksumMismatch: 'INGEST_CHECKSUM_MISMATCH',
  /** The checksum list does not name the archive. */
  ChecksumNotListed: 'INGEST_CHECKSUM_NOT_LISTED',
  /** A distro's release index (Release, latest-releases.yaml, sha256sums.txt) is malformed, too big, or lies. */
  ReleaseIndex: 'INGEST_RELEASE_INDEX',
  /** A release index's OpenPGP signature is missing, broken, or not made by a key of the keyring. */
  Signature: 'INGEST_SIGNATURE',
  /** The index has no release matching the image's `version:`. */
  ReleaseNotFound: 'INGEST_RELEASE_NOT_FOUND',
  /** The local archive named by source.path cannot be read. */
  SourceUnreadable: 'INGEST_SOURCE_UNREADABLE',
  /** An archive entry's name or link would leave the image folder. */
  HostileEntry: 'INGEST_HOSTILE_ENTRY',
  /** The archive is damaged or of a kind that cannot be read here. */
  BadArchive: 'INGEST_BAD_ARCHIVE',
  /** A needed decompressor is not installed. */
  MissingTool: 'INGEST_MISSING_TOOL',
  /** Files the boot entry names are not in the archive. */
  MissingFiles: 'INGEST_MISSING_FILES',
  /** A rename glob matches several files, so the target is ambiguous. */
  AmbiguousRename: 'INGEST_AMBIGUOUS_RENAME',
  /** The disk of the data directory is full, or the download or extraction would not fit on it. */
  NoSpace: 'INGEST_NO_SPACE',
  /** The archive's files are bigger than the image's cap (source.max_extracted_size). */
  TooLarge: 'INGEST_TOO_LARGE',
  /** A rollback found no older installed version to switch back to. */
  NoPreviousVersion: 'INGEST_NO_PREVIOUS_VERSION',
  /** Another ingest of the same image is running. */
  Busy: 'INGEST_BUSY',
} as const;

/** One of the IngestError codes. */
export type IngestErrorCode = (typeof IngestErrorCode)[keyof typeof IngestErrorCode];

/** A failed ingest step, with a message that names the thing, the place and the fix. */
export class IngestError extends Error {
  readonly code: IngestErrorCode;

  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IngestError';
    this.code = code;
  }
}
