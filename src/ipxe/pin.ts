import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The iPXE release bootstation builds from, as ipxe-src/pin.json names it. */
export interface IpxePin {
  version: string;
  url: string;
  /** SHA-256 of the tarball at url; null until it is filled in from the release. */
  sha256: string | null;
}

// ipxe-src/, bootstation's overlay and pin, next to src/ in the checkout or package.
const IPXE_SRC_DIR = fileURLToPath(new URL('../../ipxe-src/', import.meta.url));

/** ipxe-src/pin.json. */
export const PIN_FILE = `${IPXE_SRC_DIR}pin.json`;

/** A pin file that cannot be used, or a pin without the digest a download needs. */
export class PinError extends Error {
  readonly code = 'BOOTSTATION_IPXE_PIN';
}

/** Parses a pin file's text; `file` names it in errors. */
export function parsePin(text: string, file: string): IpxePin {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinError(`${file} is not valid JSON (${(error as Error).message}); restore it from the repository`);
  }
  const pin = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { version, url, sha256 } = pin;
  if (typeof version !== 'string' || !/^v\d+\.\d+\.\d+$/.test(version)) throw new PinError(`${file}: "version" must be an iPXE release tag such as v2.0.0`);
  if (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url)) throw new PinError(`${file}: "url" must be the http(s) URL of the release's source tarball`);
  if (sha256 !== null && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
    throw new PinError(`${file}: "sha256" must be the tarball's SHA-256 (64 lower-case hexadecimal digits) or null while it is unknown`);
  }
  return { version, url, sha256 };
}

/** Reads and parses ipxe-src/pin.json (or another pin file). */
export async function loadPin(file: string = PIN_FILE): Promise<IpxePin> {
  return parsePin(await readFile(file, 'utf8'), file);
}

/**
 * The digest a download of the pinned tarball is verified against. A pin without one is refused: an
 * unverified compiler input would end up in every machine's boot path.
 */
export function pinnedDigest(pin: IpxePin, file: string = PIN_FILE): string {
  if (pin.sha256 === null) {
    throw new PinError(
      `${file} has no SHA-256 for the iPXE ${pin.version} tarball, so it cannot be downloaded and verified: give a local copy with --source DIR|TARBALL, or set "sha256" from the release`,
    );
  }
  return pin.sha256;
}
