// What kind of archive a file is, from its first bytes (never its name). Pure.
import { DEB_MAGIC } from './deb-archive.ts';

/** Kinds of source ingest can read. */
export type ArchiveType = 'iso9660' | 'zip' | 'deb' | 'tar' | 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'single';

/** How many leading bytes detectArchiveType needs: the ISO 9660 descriptor at sector 16 plus its identifier. */
export const ARCHIVE_HEAD_BYTES = 16 * 2048 + 6;

const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0): boolean =>
  bytes.length >= at + magic.length && magic.every((byte, i) => bytes[at + i] === byte);
const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

/**
 * Detects the archive type from the head of a file. ISO 9660 is checked first: hybrid ISOs begin with
 * an MBR or GPT, so only the "CD001" identifier of the descriptor at sector 16 tells them apart.
 */
export function detectArchiveType(head: Uint8Array): ArchiveType {
  if (startsWith(head, ascii('CD001'), 16 * 2048 + 1)) return 'iso9660';
  // Local file header, or the end-of-central-directory record of an empty zip.
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  // A Debian package: an ar archive whose first member is debian-binary (deb(5)); other ar files are single files.
  if (startsWith(head, ascii(DEB_MAGIC))) return 'deb';
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, ascii('BZh'))) return 'bzip2';
  if (isTarHeader(head)) return 'tar';
  return 'single';
}

/** Whether the first 512 bytes are a tar header: the ustar magic (POSIX and GNU), or an old v7 header whose checksum adds up. */
export function isTarHeader(head: Uint8Array): boolean {
  if (head.length < 512) return false;
  if (startsWith(head, ascii('ustar'), 257)) return true;
  const field = String.fromCharCode(...head.subarray(148, 156)).replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  return sum === parseInt(field, 8) && head[0] !== 0;
}
