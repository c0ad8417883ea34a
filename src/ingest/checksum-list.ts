// SHA256SUMS-style lists (coreutils `sha256sum` text and binary mode, and BSD `SHA256 (name) = hex`). Pure.
import type { CHECKSUM_ALGORITHMS } from '../config/model.ts';

/** A digest algorithm images.yaml accepts. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** A digest with its algorithm; value is lower-case hex. */
export interface Digest {
  algorithm: ChecksumAlgorithm;
  value: string;
}

const BY_LENGTH: Readonly<Record<number, ChecksumAlgorithm>> = { 32: 'md5', 64: 'sha256', 128: 'sha512' };
const COREUTILS_LINE = /^\\?([0-9a-fA-F]+) [ *](.+)$/;
const BSD_LINE = /^(MD5|SHA256|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]+)$/;

/** Every (name, digest) pair in a checksum list; lines that are neither format are ignored (PGP armour, comments). */
export function parseChecksumList(text: string): Array<{ name: string; digest: Digest }> {
  const entries: Array<{ name: string; digest: Digest }> = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const coreutils = COREUTILS_LINE.exec(line);
    const bsd = coreutils ? undefined : BSD_LINE.exec(line);
    const hex = coreutils?.[1] ?? bsd?.[3];
    const name = coreutils?.[2] ?? bsd?.[2];
    if (hex === undefined || name === undefined) continue;
    const algorithm = BY_LENGTH[hex.length];
    if (!algorithm || (bsd && bsd[1]!.toLowerCase() !== algorithm)) continue;
    entries.push({ name: name.replace(/^\.\//, ''), digest: { algorithm, value: hex.toLowerCase() } });
  }
  return entries;
}

/**
 * The digest a list gives for a file: its path relative to the list's folder first (Debian's images/SHA256SUMS
 * names ./netboot/gtk/netboot.tar.gz before ./netboot/netboot.tar.gz), then the exact name, else a listed path
 * ending in /name.
 */
export function findListedDigest(text: string, fileName: string, pathBelowList?: string): Digest | undefined {
  const entries = parseChecksumList(text);
  const below = pathBelowList === undefined ? undefined : entries.find((e) => e.name === pathBelowList);
  return (below ?? entries.find((e) => e.name === fileName) ?? entries.find((e) => e.name.endsWith(`/${fileName}`)))?.digest;
}

/** The path of archiveUrl relative to the folder of listUrl ("netboot/netboot.tar.gz"), or undefined when it is not below it. */
export function pathBelowList(archiveUrl: string, listUrl: string): string | undefined {
  const folder = new URL('.', listUrl);
  const archive = new URL(archiveUrl);
  if (archive.origin !== folder.origin || !archive.pathname.startsWith(folder.pathname)) return undefined;
  return decodeURIComponent(archive.pathname.slice(folder.pathname.length));
}
