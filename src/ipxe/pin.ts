// ipxe-src/pin.json: the iPXE release the build uses and how to recognise it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * The iPXE release bootstation builds from, as ipxe-src/pin.json names it. scripts/build-ipxe.sh --pin checks
 * a tarball against commit and tarSha256 before it unpacks anything; this module only reads and validates.
 */
export interface IpxePin {
  version: string;
  /** The commit the release tag names; `git archive` writes it into the tarball's pax global header. */
  commit: string;
  /** Where the release tarball is downloaded from when no mirror or local copy is given. */
  url: string;
  /** SHA-256 of the DECOMPRESSED tar stream ("tar_sha256"): gzip's output is not promised to be byte-stable. */
  tarSha256: string;
}

// ipxe-src/, bootstation's overlay and pin, next to src/ in the checkout or package.
const IPXE_SRC_DIR = fileURLToPath(new URL('../../ipxe-src/', import.meta.url));

/** ipxe-src/pin.json. */
export const PIN_FILE = `${IPXE_SRC_DIR}pin.json`;

/** A pin file that cannot be used. */
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
  const { version, commit, url, tar_sha256: tarSha256 } = pin;
  if (typeof version !== 'string' || !/^v\d+\.\d+\.\d+$/.test(version)) throw new PinError(`${file}: "version" must be an iPXE release tag such as v2.0.0`);
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit)) throw new PinError(`${file}: "commit" must be the release tag's commit (40 lower-case hexadecimal digits)`);
  if (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url)) throw new PinError(`${file}: "url" must be the http(s) URL of the release's source tarball`);
  if (typeof tarSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(tarSha256)) {
    throw new PinError(`${file}: "tar_sha256" must be the SHA-256 of the release's decompressed tar stream (64 lower-case hexadecimal digits)`);
  }
  return { version, commit, url, tarSha256 };
}

/** Reads and parses ipxe-src/pin.json (or another pin file). */
export async function loadPin(file: string = PIN_FILE): Promise<IpxePin> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new PinError(`the pin file ${file} cannot be read (${error.code ?? error.message}); give an existing file with --pin, or leave --pin out for ipxe-src/pin.json`);
  });
  return parsePin(text, file);
}
