// Per-release checksum files of projects without a release index: a <file>.sha256 next to the file (SystemRescue), and
// the CHECKSUMS.TXT of a stable folder in the DRBL projects' layout (GParted Live, Clonezilla live). Pure.
import { parseChecksumList } from '../checksum-list.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** A <file>.sha256 is one line (sha256sum output); 4 KB bounds a lying one. */
export const MAX_SIDECAR_BYTES = 4096;
/** A real CHECKSUMS.TXT is about 2 KB (five digests of an .iso and a .zip); 64 KB bounds a lying one. */
export const MAX_CHECKSUMS_TXT_BYTES = 64 * 1024;

/** The sha256 a <file>.sha256 gives for `file`; an IngestError when it gives none or two different ones. */
export function sidecarSha256(text: string, file: string, where: string): string {
  if (text.length > MAX_SIDECAR_BYTES) throw bad(where, `is larger than ${MAX_SIDECAR_BYTES} bytes`);
  const digests = new Set(parseChecksumList(text).flatMap((entry) => (entry.name === file && entry.digest.algorithm === 'sha256' ? [entry.digest.value] : [])));
  if (digests.size !== 1) throw bad(where, digests.size === 0 ? `gives no sha256 for ${file}` : `gives several sha256 for ${file}`);
  return [...digests][0]!;
}

/**
 * The (name, sha256) lines of a CHECKSUMS.TXT: GParted's and Clonezilla's list each algorithm under its own heading
 * ("### MD5SUMS:", "### SHA256SUMS:", "### SHA512SUMS:", "### B2SUMS:"), so only the lines under "### SHA256SUMS:" are
 * read (a BLAKE2b line is as long as a SHA-512 one and must not be taken for it).
 */
export function checksumsTxtSha256(text: string, where: string): Array<{ name: string; sha256: string }> {
  if (text.length > MAX_CHECKSUMS_TXT_BYTES) throw bad(where, `is larger than ${MAX_CHECKSUMS_TXT_BYTES} bytes`);
  const entries: Array<{ name: string; sha256: string }> = [];
  let inSha256 = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      inSha256 = /^#+\s*SHA256SUMS:?$/i.test(line);
      continue;
    }
    if (!inSha256) continue;
    const [entry] = parseChecksumList(line);
    if (entry?.digest.algorithm === 'sha256') entries.push({ name: entry.name, sha256: entry.digest.value });
  }
  return entries;
}

/**
 * The one release a stable CHECKSUMS.TXT names as `<prefix><version><suffix>` (gparted-live-1.7.0-12-amd64.zip), with
 * its sha256; an IngestError when it names none, several, or a version that is not a release number.
 */
export function stableRelease(text: string, prefix: string, suffix: string, where: string): { version: string; file: string; sha256: string } {
  const matches = checksumsTxtSha256(text, where).filter((entry) => entry.name.startsWith(prefix) && entry.name.endsWith(suffix) && entry.name.length > prefix.length + suffix.length);
  const files = new Map(matches.map((entry) => [entry.name, entry.sha256]));
  if (files.size !== 1) throw bad(where, files.size === 0 ? `lists no ${prefix}<version>${suffix} under SHA256SUMS` : `lists several ${prefix}<version>${suffix} files`);
  const [file, sha256] = [...files][0]!;
  if (matches.some((entry) => entry.sha256 !== sha256)) throw bad(where, `gives several sha256 for ${file}`);
  const version = file.slice(prefix.length, file.length - suffix.length);
  if (!RELEASE_NUMBER.test(version)) throw bad(where, `names ${file.slice(0, 80)}, whose version is not a release number`);
  return { version, file, sha256 };
}

/** A release number as these projects write them: 12.01, 6.1.8, 1.7.0-12 (no path, no "..", nothing else). */
export const RELEASE_NUMBER = /^\d{1,4}(\.\d{1,4}){1,3}(-\d{1,4})?$/;

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the checksum list ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) holds the project's checksum files`);
}
