// ISO images for the ISO 9660 reader tests: trees written to a temp dir and mastered by xorriso at test
// time, xorriso's own extraction to compare against, and tree fingerprints (kind, size, symlink target,
// SHA-256) of a directory on disk and of an opened image.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { openForReading, type OpenedFile } from '../../src/files/boot-files.ts';
import type { IsoEntry, IsoImage } from '../../src/ingest/iso9660/iso-image.ts';

const run = promisify(execFile);

/** Why xorriso-based tests cannot run here (Debian package xorriso), or undefined when they can. */
export async function xorrisoMissing(): Promise<string | undefined> {
  try {
    await run('xorriso', ['-version']);
    return undefined;
  } catch {
    return 'xorriso is not installed (Debian package: xorriso)';
  }
}

/** A fresh temp directory; remove it with removeTree. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bootstation-${prefix}-`));
}

/** Removes a tree, first making read-only directories (as xorriso extracts them) writable. */
export async function removeTree(dir: string): Promise<void> {
  await run('chmod', ['-R', 'u+rwx', dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** What to put at one path of a tree: file contents, a symlink, an empty directory or a sparse file. */
export type TreeItem = string | Uint8Array | { symlink: string } | { directory: true } | { sparse: number; marks: Array<[number, string]> };

/** Writes `items` (relative paths → contents) under `root`, creating parent directories. */
export async function writeTree(root: string, items: Record<string, TreeItem>): Promise<void> {
  for (const [path, item] of Object.entries(items)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    if (typeof item === 'string' || item instanceof Uint8Array) await writeFile(target, item);
    else if ('symlink' in item) await symlink(item.symlink, target);
    else if ('directory' in item) await mkdir(target, { recursive: true });
    else {
      // A sparse file (like `truncate -s`) with a few marker strings, so its halves differ.
      const handle = await open(target, 'w');
      try {
        await handle.truncate(item.sparse);
        for (const [position, text] of item.marks) await handle.write(Buffer.from(text), 0, text.length, position);
      } finally {
        await handle.close();
      }
    }
  }
}

/** Masters `sourceDir` into `isoPath` with xorriso; `settings` are xorriso commands given before -outdev. */
export async function masterIso(sourceDir: string, isoPath: string, settings: string[]): Promise<void> {
  await run('xorriso', ['-no_rc', '-report_about', 'SORRY', ...settings, '-outdev', isoPath, '-map', sourceDir, '/', '-commit'], {
    maxBuffer: 16 * 1024 * 1024,
  });
}

/**
 * Extracts the whole image with `xorriso -osirrox on -extract / DIR`: the reference the reader is compared
 * to. `settings` go before -indev (`-read_fs norock` or `ecma119` make xorriso load the Joliet or plain tree).
 */
export async function extractWithXorriso(isoPath: string, outDir: string, settings: string[] = []): Promise<void> {
  await run('xorriso', ['-no_rc', '-report_about', 'SORRY', ...settings, '-osirrox', 'on', '-indev', isoPath, '-extract', '/', outDir], {
    maxBuffer: 16 * 1024 * 1024,
  });
  await chmod(outDir, 0o755);
}

/** One entry of a tree fingerprint. */
export interface TreeFingerprint {
  kind: 'file' | 'directory' | 'symlink';
  size?: number;
  sha256?: string;
  target?: string;
}

/** Fingerprints every entry under `root` on disk (paths relative, "/"-separated). */
export async function fingerprintDirectory(root: string): Promise<Map<string, TreeFingerprint>> {
  const result = new Map<string, TreeFingerprint>();
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const relative = prefix === '' ? name : `${prefix}/${name}`;
      const stats = await lstat(path);
      if (stats.isSymbolicLink()) result.set(relative, { kind: 'symlink', target: await readlink(path) });
      else if (stats.isDirectory()) {
        result.set(relative, { kind: 'directory' });
        await visit(path, relative);
      } else {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
        result.set(relative, { kind: 'file', size: stats.size, sha256: hash.digest('hex') });
      }
    }
  };
  await visit(root, '');
  return result;
}

/** Fingerprints every entry of an image through walk() and readFile(), as the ingest layer would extract it. */
export async function fingerprintImage(image: IsoImage): Promise<Map<string, TreeFingerprint>> {
  const entries: IsoEntry[] = [];
  for await (const entry of image.walk()) entries.push(entry);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const result = new Map<string, TreeFingerprint>();
  for (const entry of entries) {
    if (entry.kind === 'symlink') result.set(entry.path, { kind: 'symlink', target: entry.target as string });
    else if (entry.kind === 'directory') result.set(entry.path, { kind: 'directory' });
    else result.set(entry.path, { kind: 'file', size: entry.size, sha256: await sha256Of(image.readFile(entry)) });
  }
  return result;
}

/** SHA-256 (hex) of a stream of chunks. */
export async function sha256Of(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** Opens an image file as the reader's random-access source (the project's own file opener). */
export function openImageFile(path: string): Promise<OpenedFile> {
  return openForReading(path);
}

/** Free bytes in the temp directory's file system (for tests that write multi-GiB images). */
export async function freeTempBytes(): Promise<number> {
  const { stdout } = await run('df', ['--output=avail', '-B1', tmpdir()]);
  return Number(stdout.trim().split('\n').pop());
}

/** A random-access source over bytes in memory (for corrupted copies of small images). */
export function memorySource(bytes: Uint8Array): { size: number; read(position: number, length: number): Promise<Uint8Array> } {
  return {
    size: bytes.length,
    read: async (position, length) => bytes.subarray(position, Math.min(bytes.length, position + length)),
  };
}

// Hand-built images, byte by byte, for structures xorriso never writes (loops, overlaps, hostile names).
// Everything uses 2048-byte blocks; a directory's records are packed so none crosses a sector.

/** A 32-bit number in both byte orders (ECMA-119 §7.3.3). */
export function both32(value: number): number[] {
  const le = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
  return [...le, ...[...le].reverse()];
}

/** One SUSP entry (SUSP 1.12 §4.1): signature, length, version 1, data. */
export function suspEntry(signature: string, data: ArrayLike<number> = []): Uint8Array {
  return Uint8Array.from([signature.charCodeAt(0), signature.charCodeAt(1), 4 + data.length, 1, ...Array.from(data)]);
}

/** Rock Ridge entries for hand-built system use areas. */
export const rr = {
  sp: (skip = 0) => suspEntry('SP', [0xbe, 0xef, skip]),
  er: (id = 'RRIP_1991A') => suspEntry('ER', [id.length, 0, 0, 1, ...Buffer.from(id, 'latin1')]),
  ce: (block: number, offset: number, length: number) => suspEntry('CE', [...both32(block), ...both32(offset), ...both32(length)]),
  px: (mode: number) => suspEntry('PX', [...both32(mode), ...both32(1), ...both32(0), ...both32(0)]),
  nm: (name: string | Uint8Array, flags = 0) => suspEntry('NM', [flags, ...(typeof name === 'string' ? Buffer.from(name) : name)]),
  sl: (components: Array<[number, string]>, flags = 0) =>
    suspEntry('SL', [flags, ...components.flatMap(([componentFlags, text]) => [componentFlags, Buffer.byteLength(text), ...Buffer.from(text)])]),
  cl: (block: number) => suspEntry('CL', both32(block)),
  re: () => suspEntry('RE'),
  pn: () => suspEntry('PN', [...both32(0), ...both32(0)]),
  zf: () => suspEntry('ZF', [0x70, 0x7a, 4, 15, ...both32(0)]),
  tf: (modified: Date) => suspEntry('TF', [0x02, ...shortDate(modified)]),
  st: () => suspEntry('ST'),
};

function shortDate(date: Date): number[] {
  return [date.getUTCFullYear() - 1900, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), 0];
}

/** A hand-built directory record. Names '\0' and '\x01' are "." and ".."; `flags` default to 2 for directories. */
export interface RawRecord {
  name: string | Uint8Array;
  block: number;
  size: number;
  directory?: boolean;
  flags?: number;
  systemUse?: Uint8Array[];
}

/** Encodes one directory record (ECMA-119 §9.1). */
export function encodeRecord(record: RawRecord): Uint8Array {
  const name = typeof record.name === 'string' ? Buffer.from(record.name, 'latin1') : record.name;
  const systemUse = Buffer.concat(record.systemUse ?? []);
  const pad = name.length % 2 === 0 ? 1 : 0;
  let length = 33 + name.length + pad + systemUse.length;
  length += length % 2;
  if (length > 255) throw new RangeError(`record for ${name.toString('latin1')} needs ${length} bytes; move system use entries to a CE area`);
  const bytes = new Uint8Array(length);
  bytes[0] = length;
  bytes.set(both32(record.block), 2);
  bytes.set(both32(record.size), 10);
  bytes.set([126, 5, 4, 3, 2, 1, 0], 18); // 2026-05-04 03:02:01 GMT
  bytes[25] = record.flags ?? (record.directory ? 2 : 0);
  bytes.set([1, 0, 0, 1], 28);
  bytes[32] = name.length;
  bytes.set(name, 33);
  bytes.set(systemUse, 33 + name.length + pad);
  return bytes;
}

/** A hand-built image: directories by block (records in order), raw bytes by image offset, a PVD at sector 16. */
export interface RawImage {
  blocks: number;
  root: { block: number; size: number };
  directories: Record<number, RawRecord[]>;
  bytes?: Record<number, Uint8Array | string>;
}

/** Builds a hand-made ISO: PVD at 16, terminator at 17, then directories and data where the layout says. */
export function buildRawIso(layout: RawImage): Buffer {
  const image = Buffer.alloc(layout.blocks * 2048);
  const pvd = 16 * 2048;
  image.set([1, ...Buffer.from('CD001'), 1], pvd);
  image.write('HANDMADE'.padEnd(32), pvd + 40, 'latin1');
  image.set(both32(layout.blocks), pvd + 80);
  image.set([0, 8, 8, 0], pvd + 128); // block size 2048, both byte orders
  image.set(encodeRecord({ name: '\0', block: layout.root.block, size: layout.root.size, directory: true }), pvd + 156);
  image.set([255, ...Buffer.from('CD001'), 1], 17 * 2048);
  for (const [block, records] of Object.entries(layout.directories)) {
    let at = Number(block) * 2048;
    for (const record of records) {
      const bytes = encodeRecord(record);
      if (Math.floor(at / 2048) !== Math.floor((at + bytes.length - 1) / 2048)) at = Math.ceil(at / 2048) * 2048;
      image.set(bytes, at);
      at += bytes.length;
    }
  }
  for (const [offset, bytes] of Object.entries(layout.bytes ?? {})) image.set(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, Number(offset));
  return image;
}

/** POSIX modes the hand-built image records in PX. */
export const handmadeModes = { DIR: 0o040755, FILE: 0o100644, LINK: 0o120777 } as const;
const { DIR, FILE, LINK } = handmadeModes;
/** The TF modification time of the hand-built image's long-named file. */
export const handmadeModified = new Date(Date.UTC(2024, 1, 29, 12, 34, 56));

/** The "." record of a one-sector directory at `block`. */
export const selfRecord = (block: number, systemUse: Uint8Array[] = []): RawRecord => ({ name: '\0', block, size: 2048, directory: true, systemUse });
/** The ".." record pointing at a one-sector directory at `block`. */
export const parentRecord = (block: number): RawRecord => ({ name: '\x01', block, size: 2048, directory: true });

/**
 * A small Rock Ridge image: ER in a continuation area, a name split across the record and a CE area, a
 * symlink over two SL entries, a directory relocated with CL/RE, a multi-extent file and an empty file.
 */
export function handmadeRockRidgeLayout(): RawImage {
  return {
    blocks: 50,
    root: { block: 18, size: 2048 },
    directories: {
      18: [
        selfRecord(18, [rr.sp(), rr.ce(30, 0, 18)]),
        parentRecord(18),
        { name: 'BOOT', block: 19, size: 2048, directory: true, systemUse: [rr.px(DIR), rr.nm('boot')] },
        { name: 'DEEP', block: 0, size: 0, systemUse: [rr.px(DIR), rr.nm('deep'), rr.cl(21)] },
        { name: 'EMPTY.;1', block: 0xffffff, size: 0, systemUse: [rr.px(FILE), rr.nm('empty')] },
        {
          name: 'LINK.;1',
          block: 0,
          size: 0,
          systemUse: [rr.px(LINK), rr.sl([[0x08, ''], [0, 'usr']], 0x01), rr.sl([[0x01, 'lo'], [0, 'ng'], [0x04, '']])],
        },
        { name: 'LONG.TXT;1', block: 40, size: 5, systemUse: [rr.px(FILE), rr.tf(handmadeModified), rr.nm('a-name-that-', 0x01), rr.ce(30, 100, 28)] },
        { name: 'MULTI.;1', block: 41, size: 2048, flags: 0x80, systemUse: [rr.px(FILE), rr.nm('multi')] },
        { name: 'MULTI.;1', block: 43, size: 100, systemUse: [rr.px(FILE), rr.nm('multi')] },
        { name: 'RR_MOVED', block: 20, size: 2048, directory: true, systemUse: [rr.px(DIR), rr.nm('rr_moved')] },
      ],
      19: [selfRecord(19), parentRecord(18), { name: 'VMLINUZ.;1', block: 42, size: 6, systemUse: [rr.px(FILE), rr.nm('vmlinuz')] }],
      20: [selfRecord(20), parentRecord(18), { name: 'DEEP', block: 21, size: 2048, directory: true, systemUse: [rr.px(DIR), rr.nm('deep'), rr.re()] }],
      21: [selfRecord(21), parentRecord(20), { name: 'INNER.TXT;1', block: 44, size: 6, systemUse: [rr.px(FILE), rr.nm('inner.txt')] }],
    },
    bytes: {
      [30 * 2048]: rr.er(),
      [30 * 2048 + 100]: Buffer.concat([rr.nm('continues-in-a-ce.txt')]),
      [40 * 2048]: 'long\n',
      [41 * 2048]: 'A'.repeat(2048),
      [42 * 2048]: 'kernel',
      [43 * 2048]: 'B'.repeat(100),
      [44 * 2048]: 'inner\n',
      [32 * 2048]: rr.nm('x'.repeat(150)),
    },
  };
}
