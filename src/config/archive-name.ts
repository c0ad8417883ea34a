// The file name of an image's archive, from its url or path source: one derivation for ingest (checksum lists,
// the cache) and for the configuration (the name the kept archive is served under as ${iso-url}).
import type { IngestSpec } from './model.ts';

/** The name of an archive whose source names none (a URL ending in "/"), or none safe in a URL and a script. */
const FALLBACK_NAME = 'archive.iso';

// Safe in a URL path and in an iPXE script without escaping.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The archive's own file name (the last path segment, %-decoded), as a checksum list names it. */
export function archiveFileName(from: IngestSpec['from']): string {
  const path = from.kind === 'url' ? new URL(from.url).pathname : from.path;
  const name = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(name) || FALLBACK_NAME;
  } catch {
    return name || FALLBACK_NAME;
  }
}

/** The name the kept archive is installed and served under: its own name when that is safe in a URL, else archive.iso. */
export function servedArchiveName(from: IngestSpec['from']): string {
  const name = archiveFileName(from);
  return SAFE_NAME.test(name) ? name : FALLBACK_NAME;
}
