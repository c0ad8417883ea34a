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
