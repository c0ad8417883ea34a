// Debian's dists/<suite>/Release file (deb822 fields with the SHA256 section), as the signature check hands it over. Pure.
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** The Release fields ingest uses and its SHA256 lines by path. */
export interface DebianRelease {
  suite: string | undefined;
  codename: string | undefined;
  /** The point release ("12.8"); absent for testing and unstable. */
  version: string | undefined;
  sha256: ReadonlyMap<string, { digest: string; size: number }>;
}

/** Debian's bookworm InRelease is about 150 KB; anything far bigger is not a Release file. */
export const MAX_RELEASE_BYTES = 4 * 1024 * 1024;
const MAX_SHA256_LINES = 100_000;

/**
 * Parses a Release file (Debian wiki "DebianRepository/Format": one deb822 paragraph; multi-line fields continue on
 * lines starting with a space, SHA256's lines being "<hex> <size> <path>"); `where` names the file in errors.
 */
export function parseDebianRelease(text: string, where: string): DebianRelease {
  if (text.length > MAX_RELEASE_BYTES) throw bad(where, `is larger than ${MAX_RELEASE_BYTES} bytes`);
  const fields = new Map<string, string>();
  const sha256 = new Map<string, { digest: string; size: number }>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed === '') break; // a Release file is one paragraph
    if (trimmed.startsWith(' ') || trimmed.startsWith('\t')) {
      if (current === undefined) throw bad(where, 'starts with a continuation line');
      if (current !== 'sha256') continue;
      const match = /^\s+([0-9a-fA-F]{64})\s+(\d{1,15})\s+(\S{1,512})$/.exec(trimmed);
      if (!match) throw bad(where, `has a malformed SHA256 line "${trimmed.trim().slice(0, 80)}"`);
      if (sha256.size >= MAX_SHA256_LINES) throw bad(where, `lists more than ${MAX_SHA256_LINES} files`);
      sha256.set(match[3]!, { digest: match[1]!.toLowerCase(), size: Number(match[2]) });
      continue;
    }
    const colon = trimmed.indexOf(':');
    if (colon <= 0) throw bad(where, `has a line that is not a field: "${trimmed.slice(0, 80)}"`);
    current = trimmed.slice(0, colon).toLowerCase();
    fields.set(current, trimmed.slice(colon + 1).trim());
  }
  if (sha256.size === 0) throw bad(where, 'has no SHA256 section');
  return { suite: fields.get('suite') || undefined, codename: fields.get('codename') || undefined, version: fields.get('version') || undefined, sha256 };
}

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the Release file ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) serves a Debian archive`);
}
