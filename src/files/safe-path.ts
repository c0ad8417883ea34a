// Requested paths (URL or TFTP names) turned into files that are really inside their folder, or the reason they are refused.
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Why a requested path was refused; logged, never shown to the client (which just gets "not found"). */
export type PathRefusal =
  | 'bad-encoding'
  | 'empty-segment'
  | 'dot-segment'
  | 'separator-in-segment'
  | 'nul-byte'
  | 'too-long'
  | 'outside-root'
  | 'not-found'
  | 'not-a-file'
  | 'dot-file';

/** A file that is really inside its root, or the reason it is refused. */
export type SafeFileResult = { ok: true; path: string; stats: Stats } | { ok: false; reason: PathRefusal };

const MAX_PATH_LENGTH = 1024;

/**
 * Splits a raw, still percent-encoded URL path into segments, refusing anything that could climb out
 * of a folder: dot segments (also %2e%2e), encoded slashes or backslashes, NUL bytes, bad encodings.
 */
export function splitUrlPath(rawPath: string): { ok: true; segments: string[] } | { ok: false; reason: PathRefusal } {
  if (rawPath.length > MAX_PATH_LENGTH) return { ok: false, reason: 'too-long' };
  const segments: string[] = [];
  for (const encoded of rawPath.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return { ok: false, reason: 'bad-encoding' };
    }
    const refusal = segmentRefusal(segment);
    if (refusal) return { ok: false, reason: refusal };
    segments.push(segment);
  }
  return { ok: true, segments };
}

/** Splits a plain (not URL-encoded) relative path, e.g. a TFTP file name, with the same refusals. */
export function splitPlainPath(path: string): { ok: true; segments: string[] } | { ok: false; reason: PathRefusal } {
  if (path.length > MAX_PATH_LENGTH) return { ok: false, reason: 'too-long' };
  const segments = path.split('/');
  for (const segment of segments) {
    const refusal = segmentRefusal(segment);
    if (refusal) return { ok: false, reason: refusal };
  }
  return { ok: true, segments };
}

function segmentRefusal(segment: string): PathRefusal | undefined {
  if (segment === '') return 'empty-segment';
  if (segment === '.' || segment === '..') return 'dot-segment';
  if (segment.includes('/') || segment.includes('\\')) return 'separator-in-segment';
  if (segment.includes('\0')) return 'nul-byte';
  return undefined;
}

/**
 * Finds a regular file under root by segments, following symlinks only while they stay inside root.
 * With caseInsensitive, a segment that does not exist as written matches one that differs only in
 * case (DOS-era TFTP clients upper-case file names). Dotfiles and dot-folders are never served, asked for
 * or reached through a link: they hold bootstation's own state (an image's .manifest.json records its source URL).
 */
export async function openSafeFile(
  root: string,
  segments: readonly string[],
  options: { caseInsensitive?: boolean; followOutside?: boolean } = {},
): Promise<SafeFileResult> {
  // "." and ".." are the splitters' to refuse; here they meet the containment check below, the last line of defence.
  if (segments.some((segment) => isDotName(segment) && segment !== '.' && segment !== '..')) return { ok: false, reason: 'dot-file' };
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return { ok: false, reason: 'not-found' };
  }
  let candidate = realRoot;
  for (const segment of segments) {
    const exact = join(candidate, segment);
    candidate = options.caseInsensitive ? await matchCase(candidate, segment, exact) : exact;
  }
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return { ok: false, reason: 'not-found' };
  }
  // followOutside is for trusted names only: Debian's stock iPXE binaries are symlinks into /boot.
  const inside = real.startsWith(realRoot + sep);
  if (!options.followOutside && !inside) return { ok: false, reason: 'outside-root' };
  if (inside && relative(realRoot, real).split(sep).some(isDotName)) return { ok: false, reason: 'dot-file' };
  const stats = await stat(real).catch(() => undefined);
  if (!stats) return { ok: false, reason: 'not-found' };
  if (!stats.isFile()) return { ok: false, reason: 'not-a-file' };
  return { ok: true, path: real, stats };
}

function isDotName(segment: string): boolean {
  return segment.startsWith('.');
}

async function matchCase(dir: string, segment: string, exact: string): Promise<string> {
  if (await stat(exact).then(() => true, () => false)) return exact;
  const wanted = segment.toLowerCase();
  const entries = await readdir(dir).catch(() => [] as string[]);
  const match = entries.find((entry) => entry.toLowerCase() === wanted);
  return match === undefined ? exact : join(dir, match);
}
