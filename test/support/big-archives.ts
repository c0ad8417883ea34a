// tar.gz archives with entries of gigabytes that cost a few megabytes and a fraction of a second to build: a gzip
// file may hold several members one after the other (RFC 1952 §2.2), so an entry of zeros is one compressed
// member of 64 MiB of zeros, repeated.
import { gzipSync } from 'node:zlib';

/** The zeros of one repeated gzip member: a big entry's size must be a multiple of it. */
export const ZEROS_PER_MEMBER = 64 * 1024 * 1024;

// By compression level: 9 packs 64 MiB into 64 KiB, 1 into 286 KiB (a reader that reads 1 MiB at a time then
// gets 230 MiB of zeros per read, not 1 GiB).
const zeroMembers = new Map<number, Buffer>();

/** One entry of a big archive: a small text file, or `zeros` bytes of zeros (a multiple of ZEROS_PER_MEMBER). */
export type BigArchiveEntry = { name: string; content: string } | { name: string; zeros: number };

/** A ustar header of a regular file (POSIX.1-1988 ustar, checksum over the header with its own field as spaces). */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const octal = (value: number, length: number): string => `${value.toString(8).padStart(length - 1, '0')}\0`;
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(0, 12), 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

/** The gzip members of a tar holding `entries` in order; join them (Buffer.concat) for the whole file, or stream them one by one. */
export function bigTarGzMembers(entries: readonly BigArchiveEntry[], options: { level?: 1 | 9 } = {}): Buffer[] {
  const level = options.level ?? 9;
  const zeroMember = zeroMembers.get(level) ?? gzipSync(Buffer.alloc(ZEROS_PER_MEMBER), { level });
  zeroMembers.set(level, zeroMember);
  const members: Buffer[] = [];
  let plain: Buffer[] = [];
  const flush = (): void => {
    if (plain.length > 0) members.push(gzipSync(Buffer.concat(plain)));
    plain = [];
  };
  for (const entry of entries) {
    if ('content' in entry) {
      const content = Buffer.from(entry.content);
      plain.push(tarHeader(entry.name, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
      continue;
    }
    if (entry.zeros % ZEROS_PER_MEMBER !== 0) throw new RangeError(`${entry.name}: ${entry.zeros} is not a multiple of ${ZEROS_PER_MEMBER}`);
    plain.push(tarHeader(entry.name, entry.zeros));
    flush();
    for (let done = 0; done < entry.zeros; done += ZEROS_PER_MEMBER) members.push(zeroMember);
  }
  plain.push(Buffer.alloc(1024));
  flush();
  return members;
}
