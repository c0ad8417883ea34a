// Arch Linux's iso/<version>/sha256sums.txt: which ISO a release folder holds and its digest. Pure.
import { parseChecksumList } from '../checksum-list.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';

/** The real list is about 400 bytes (the ISO, its bootstrap tarballs and their generic names). */
export const MAX_ARCH_SUMS_BYTES = 64 * 1024;

/** The dated ISO (archlinux-<yyyy.mm.dd>-x86_64.iso) a sha256sums.txt lists, with its version and digest. */
export function findArchIso(text: string, where: string): { version: string; file: string; sha256: string } {
  if (text.length > MAX_ARCH_SUMS_BYTES) throw bad(where, `is larger than ${MAX_ARCH_SUMS_BYTES} bytes`);
  const isos = parseChecksumList(text).flatMap((entry) => {
    const match = /^archlinux-(\d{4}\.\d{2}\.\d{2})-x86_64\.iso$/.exec(entry.name);
    return match && entry.digest.algorithm === 'sha256' ? [{ version: match[1]!, file: entry.name, sha256: entry.digest.value }] : [];
  });
  if (isos.length !== 1) throw bad(where, isos.length === 0 ? 'lists no archlinux-<date>-x86_64.iso' : 'lists several dated ISOs');
  return isos[0]!;
}

function bad(where: string, what: string): IngestError {
  return new IngestError(IngestErrorCode.ReleaseIndex, `the Arch Linux checksum list ${where} ${what}; check the mirror (images.yaml mirror: or mirrors:) serves Arch's iso/ folder`);
}
