// Debian's Packages index (dists/<suite>/<component>/binary-<arch>/Packages): finds one package's paragraph and reads
// the fields that locate and verify its .deb. Pure.
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** One binary package as the index lists it: what ingest downloads and the digest it must have. */
export interface DebianPackage {
  name: string;
  /** The Debian version ("6.10-4", "1:2.3~rc1-2"). */
  version: string;
  /** The .deb below the mirror's root ("pool/main/m/memtest86+/memtest86+_6.10-4_amd64.deb"), checked to be a plain relative path. */
  filename: string;
  sha256: string;
  size: number;
}

/** The uncompressed index: bookworm's main/binary-amd64/Packages is 50 MB, trixie's 57 MB; a lying one stops here. */
export const MAX_PACKAGES_BYTES = 256 * 1024 * 1024;
/** One paragraph is a few KB (the longest descriptions about 30 KB); anything past this is not a package's. */
export const MAX_PARAGRAPH_BYTES = 256 * 1024;
/** A .deb ingest downloads (memtest86+'s is 120 KB): far below the biggest Debian packages (about 1 GB). */
export const MAX_DEB_BYTES = 2 * 1024 * 1024 * 1024;

// Debian Policy 5.6.1: package names are lower-case letters, digits, "+", "-" and ".", at least two characters,
// starting with a letter or digit.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{1,99}$/;
// Debian Policy 5.6.12: [epoch:]upstream_version[-debian_revision]; the upstream version starts with a digit.
const VERSION = /^(\d{1,9}:)?\d[A-Za-z0-9.+~-]{0,126}$/;
// The characters of pool/ file names (dak writes <component>/<prefix>/<source>/<package>_<version>_<arch>.deb).
const PATH_SEGMENT = /^[A-Za-z0-9+_.~-]{1,255}$/;

/** Whether `name` is a valid Debian package name. */
export function isDebianPackageName(name: string): boolean {
  return PACKAGE_NAME.test(name);
}

/**
 * Finds the paragraph of `name` in a Packages index (Debian wiki "DebianRepository/Format", section Packages Indices:
 * deb822 paragraphs separated by blank lines, each with Package, Version, Filename, Size and SHA256) and returns its
 * fields, checked; `where` names the index in errors. The index is searched with Buffer.indexOf (one pass, no copy),
 * so a 57 MB index costs milliseconds; only the package's own paragraph is decoded.
 */
export function findDebianPackage(index: Uint8Array, name: string, where: string): DebianPackage {
  if (!isDebianPackageName(name)) throw new Error(`${JSON.stringify(name)} is not a Debian package name`);
  if (index.length > MAX_PACKAGES_BYTES) throw bad(where, `is larger than ${MAX_PACKAGES_BYTES} bytes`);
  const bytes = Buffer.from(index.buffer, index.byteOffset, index.length);
  const line = paragraphStart(bytes, name, 0);
  if (line === -1) throw new IngestError(IngestErrorCode.ReleaseNotFound, `the Packages index ${where} does not list ${name}; check the image's version: names a suite that has it (latest, bookworm, trixie)`);
  // Debian writes Package first, but deb822 does not require it: the paragraph begins after the blank line before.
  const blank = line === 0 ? -1 : bytes.lastIndexOf('\n\n', line - 1, 'latin1');
  const start = blank === -1 ? 0 : blank + 2;
  const end = paragraphEnd(bytes, line);
  if (end - start > MAX_PARAGRAPH_BYTES) throw bad(where, `has a paragraph for ${name} longer than ${MAX_PARAGRAPH_BYTES} bytes`);
  // Debian's archive lists one version of a package per suite and architecture; two paragraphs would be a guess.
  if (paragraphStart(bytes, name, end) !== -1) throw bad(where, `lists ${name} more than once`);
  const fields = parseParagraph(bytes.toString('utf8', start, end), where);
  const version = fields.get('version');
  const filename = fields.get('filename');
  const size = fields.get('size');
  const sha256 = fields.get('sha256');
  const missing = [['Version', version], ['Filename', filename], ['Size', size], ['SHA256', sha256]].filter(([, value]) => value === undefined).map(([field]) => field);
  if (missing.length > 0) throw bad(where, `has no ${missing.join(', ')} for ${name}`);
  if (!VERSION.test(version!)) throw bad(where, `gives ${name} the version ${quote(version!)}, which is not a Debian version`);
  if (!/^[0-9a-fA-F]{64}$/.test(sha256!)) throw bad(where, `gives ${name} the SHA256 ${quote(sha256!)}, which is not 64 hex digits`);
  if (!/^\d{1,10}$/.test(size!) || Number(size) === 0 || Number(size) > MAX_DEB_BYTES) throw bad(where, `gives ${name} the size ${quote(size!)}, not a number of bytes up to ${MAX_DEB_BYTES}`);
  const problem = filenameProblem(filename!);
  if (problem) throw bad(where, `gives ${name} the file name ${quote(filename!)}, which ${problem}`);
  return { name, version: version!, filename: filename!, sha256: sha256!.toLowerCase(), size: Number(size) };
}

/** Why `filename` is not a plain relative path to a .deb below the mirror (undefined when it is one). */
export function filenameProblem(filename: string): string | undefined {
  if (filename.length > 1024) return 'is too long';
  if (!filename.endsWith('.deb')) return 'is not a .deb';
  const segments = filename.split('/');
  if (segments.some((segment) => segment === '')) return 'is not a relative path (an empty segment or a leading "/")';
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'has a "." or ".." segment';
  if (!segments.every((segment) => PATH_SEGMENT.test(segment))) return 'has characters a Debian pool path does not';
  return undefined;
}

// The offset of the first "Package: <name>" line at or after `from` that starts a line; -1 when there is none.
function paragraphStart(bytes: Buffer, name: string, from: number): number {
  const line = `Package: ${name}\n`;
  if (from === 0 && bytes.subarray(0, line.length).toString('latin1') === line) return 0;
  const found = bytes.indexOf(`\n${line}`, Math.max(0, from - 1), 'latin1');
  return found === -1 ? -1 : found + 1;
}

// A paragraph ends at the first blank line (or the end of the index).
function paragraphEnd(bytes: Buffer, start: number): number {
  const blank = bytes.indexOf('\n\n', start, 'latin1');
  return blank === -1 ? bytes.length : blank + 1;
}

// deb822: "Field: value" lines, continuation lines begin with a space or tab (only their first line is kept here:
// none of the fields read is multi-line). Field names are case-insensitive.
function parseParagraph(text: string, where: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad(where, `has a line that is not a field: ${quote(line)}`);
    const field = line.slice(0, colon).toLowerCase();
    if (fields.has(field)) throw bad(where, `has the field ${quote(line.slice(0, colon))} twice in one paragraph`);
    fields.set(field, line.slice(colon + 1).trim());
  }
  return fields;
}

function quote(text: string): string {
  return JSON.stringify(text.slice(0, 80));
}

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the Packages index ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) serves a Debian archive`);
}
