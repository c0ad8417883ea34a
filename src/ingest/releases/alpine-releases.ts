// Alpine's latest-releases.yaml (<mirror>/<branch>/releases/<arch>/latest-releases.yaml, read by alpinelinux.org/downloads). Pure.
import { parse } from 'yaml';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** One release of one flavor as the index lists it. */
export interface AlpineRelease {
  flavor: string;
  version: string;
  file: string;
  sha256: string;
  /** The branch folder (v3.20), so the archive's URL names the release rather than latest-stable. */
  branch: string | undefined;
}

/** The real index is about 10 KB (a dozen flavors). */
export const MAX_ALPINE_INDEX_BYTES = 256 * 1024;

/** Every well-formed entry of a latest-releases.yaml text; `where` names the file in errors. */
export function parseAlpineReleases(text: string, where: string): AlpineRelease[] {
  if (text.length > MAX_ALPINE_INDEX_BYTES) throw bad(where, `is larger than ${MAX_ALPINE_INDEX_BYTES} bytes`);
  let parsed: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    parsed = parse(text, { maxAliasCount: 10 });
  } catch {
    throw bad(where, 'is not YAML');
  }
  if (!Array.isArray(parsed)) throw bad(where, 'is not a list of releases');
  const releases: AlpineRelease[] = [];
  for (const entry of parsed as unknown[]) {
    const { flavor, version, file, sha256, branch } = (entry ?? {}) as Record<string, unknown>;
    if (typeof flavor !== 'string' || typeof file !== 'string' || typeof sha256 !== 'string') continue;
    if (!/^[0-9a-f]{64}$/i.test(sha256) || !/^[A-Za-z0-9._+-]{1,200}$/.test(file)) throw bad(where, `lists a malformed entry for ${flavor.slice(0, 40)}`);
    const folder = typeof branch === 'string' && /^v\d{1,3}\.\d{1,3}$/.test(branch) ? branch : undefined;
    releases.push({ flavor, version: String(version ?? ''), file, sha256: sha256.toLowerCase(), branch: folder });
  }
  return releases;
}

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the Alpine release index ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) serves Alpine's releases folder`);
}
