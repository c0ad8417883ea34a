// Free space on the data disk, and the one "disk full" sentence every ingest step (download, extract,
// install) reports when an image does not fit, instead of whatever the failed write looked like.
import { statfs } from 'node:fs/promises';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { formatBytes } from '../text/format.ts';

/** Bytes an unprivileged writer may still use on the file system that holds `path` (statfs). */
export async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}

// ENOSPC: no blocks or inodes left; EDQUOT: the user's quota is used up. Both mean "free space".
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** Whether `error`, or an error it wraps (`cause`), is a write that failed because the disk is full. */
export function isDiskFull(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    // An IngestError may wrap the write that failed (a reader reports it as an unreadable archive).
    if (current instanceof IngestError && current.code === IngestErrorCode.NoSpace) return true;
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return true;
  }
  return false;
}

/** What did not fit where: the folder written to, what it was for, and how many bytes that needs. */
export interface SpaceNeed {
  /** The folder being written (its file system is the one that is full). */
  where: string;
  /** The image (or download) that needs the space. */
  what: string;
  needed: number;
  /** True when `needed` is only what is known so far (a tar declares sizes as it streams). */
  atLeast?: boolean;
}

/** The "disk full" IngestError for `need` with `free` bytes left, naming the fix. */
export function diskFullError(need: SpaceNeed, free: number, cause?: unknown): IngestError {
  return new IngestError(
    IngestErrorCode.NoSpace,
    `disk full: ${need.where} has ${formatBytes(free)} free, ${need.what} needs ${need.atLeast ? 'at least' : 'about'} ${formatBytes(need.needed)}; free some space or use a --data directory on a larger disk`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Rethrows `error` as the "disk full" error when the disk filled up under it (ENOSPC anywhere in its
 * causes), with `freeBefore` (the free space before the writes began) or else the free space measured
 * now; any other error is rethrown as it is.
 */
export async function rethrowAsDiskFull(error: unknown, need: SpaceNeed, freeBefore?: number): Promise<never> {
  if (!isDiskFull(error) || (error instanceof IngestError && error.code === IngestErrorCode.NoSpace)) throw error;
  const free = freeBefore ?? (await freeBytes(need.where).catch(() => 0));
  throw diskFullError(need, free, error);
}
