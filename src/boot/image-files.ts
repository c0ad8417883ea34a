// Which boot files of each image are missing on disk and what each kernel's header says, behind the cache the HTTP routes and dashboard share.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { bootFilesOf, bootSpecsOf, type BootstationConfig } from '../config/model.ts';
import { decodeKernelHeader, KERNEL_HEADER_BYTES, type KernelHeader } from './kernel-header.ts';
import type { KernelHeaders } from './kernel-fit.ts';

/** What one check of the image folders found. */
export interface BootFileCheck {
  /** Image id → boot files that are not on disk; complete images are absent. */
  missing: Map<string, string[]>;
  /** Image id → kernel path → its header, for the kernels on disk (when the check reads headers). */
  kernels: KernelHeaders;
}

/** Reads kernel headers, each file again only after it changed. */
export type KernelHeaderReader = (path: string, identity: FileIdentity) => Promise<KernelHeader>;

/** What says a file is still the one read before: a replaced or rewritten file differs in one of these. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/**
 * Checks every image's kernels and initrds (of every boot spec) on disk; with a reader, also reads the header of
 * each kernel that is there.
 */
export async function checkBootFiles(config: BootstationConfig, readHeader?: KernelHeaderReader): Promise<BootFileCheck> {
  const missing = new Map<string, string[]>();
  const kernels = new Map<string, Map<string, KernelHeader>>();
  await Promise.all(
    config.images.map(async (image) => {
      const files = bootFilesOf(image);
      const kernelFiles = new Set(bootSpecsOf(image).map((spec) => spec.kernel));
      const headers = new Map<string, KernelHeader>();
      const present = await Promise.all(
        files.map(async (file) => {
          const path = join(image.dir, file);
          const stats = await stat(path, { bigint: true }).catch(() => undefined);
          if (!stats?.isFile()) return false;
          if (readHeader && kernelFiles.has(file)) headers.set(file, await readHeader(path, stats));
          return true;
        }),
      );
      const absent = files.filter((_, i) => !present[i]);
      if (absent.length > 0) missing.set(image.id, absent);
      if (headers.size > 0) kernels.set(image.id, headers);
    }),
  );
  return { missing, kernels };
}

/** Checks every image's kernel and initrds (for every firmware) on disk; returns image id → missing files (complete images absent). */
export async function findMissingBootFiles(config: BootstationConfig): Promise<Map<string, string[]>> {
  return (await checkBootFiles(config)).missing;
}

/**
 * A KernelHeaderReader that remembers each file's header by its identity (device, inode, size, mtime in ns), so a
 * kernel is read once per ingest, or when the user replaces a source.dir file; entries of paths that were not asked
 * for since the previous prune() are dropped, so it holds at most the kernels of the current config. At most
 * MAX_HEADER_READS files are read at once.
 */
export function createKernelHeaderReader(readFile: (path: string) => Promise<KernelHeader> = readKernelHeader): KernelHeaderReader & { prune(): void } {
  const cache = new Map<string, { identity: FileIdentity; header: Promise<KernelHeader>; used: boolean }>();
  const limited = limitConcurrency(readFile, MAX_HEADER_READS);
  const read: KernelHeaderReader = (path, identity) => {
    const cached = cache.get(path);
    if (cached && sameFile(cached.identity, identity)) {
      cached.used = true;
      return cached.header;
    }
    const header = limited(path);
    cache.set(path, { identity: { dev: identity.dev, ino: identity.ino, size: identity.size, mtimeNs: identity.mtimeNs }, header, used: true });
    return header;
  };
  const prune = (): void => {
    for (const [path, entry] of cache) {
      if (!entry.used) cache.delete(path);
      entry.used = false;
    }
  };
  return Object.assign(read, { prune });
}

// The first check after a start (or an ingest of many images) finds every kernel new: a few reads at a time bound the
// open files and the 64 KiB buffers (plus zlib's state for gzip kernels) to that many, whatever the number of images.
const MAX_HEADER_READS = 4;

/** `run` with at most `limit` calls in flight; later calls wait in order. */
function limitConcurrency<T>(run: (path: string) => Promise<T>, limit: number): (path: string) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (path) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await run(path);
    } finally {
      // The slot passes straight to the next waiter, so `active` never overshoots.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/**
 * Reads a kernel's header from its first KERNEL_HEADER_BYTES; a gzip-compressed kernel (an arm64 Image.gz) is
 * inflated up to KERNEL_HEADER_BYTES of output and read again. A file that cannot be read is 'unknown'.
 */
export async function readKernelHeader(path: string): Promise<KernelHeader> {
  try {
    const prefix = await readPrefix(path);
    const header = decodeKernelHeader(prefix);
    if (header.format !== 'gzip') return header;
    const inflated = decodeKernelHeader(await inflatePrefix(prefix));
    // One layer only: gzip inside gzip is no kernel.
    return inflated.format === 'gzip' ? { format: 'unknown' } : inflated;
  } catch {
    return { format: 'unknown' };
  }
}

async function readPrefix(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(KERNEL_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, KERNEL_HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

// Inflates the start of a gzip stream (the prefix is cut mid-stream, hence the sync flush at its end) and stops
// at KERNEL_HEADER_BYTES of output: a gzip bomb costs at most that plus one zlib chunk.
function inflatePrefix(compressed: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (): void => {
      gunzip.destroy();
      resolve(Buffer.concat(chunks, length).subarray(0, KERNEL_HEADER_BYTES));
    };
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= KERNEL_HEADER_BYTES) done();
    });
    gunzip.on('end', done);
    gunzip.on('error', done);
    gunzip.end(compressed);
  });
}

/** A check of the boot files of the live config, answered from a short-lived cache. */
export type BootFileChecker = (config: BootstationConfig) => Promise<BootFileCheck>;

// A file that appears (an ingest finished, a file was copied in) shows in the menu within this time.
const MISSING_FILES_MAX_AGE_MS = 2000;

/**
 * checkBootFiles with kernel headers behind a cache (see cachePerConfig). Every /boot.ipxe and /menu.ipxe needs it,
 * and a check stats every file of every image: 200 requests at once with 300 images of 4 files queued 240,000 stats
 * on libuv's 4 threads, in front of the file reads of every download, and /healthz waited 16.7 s. Headers are read
 * again only for kernels whose file changed (createKernelHeaderReader).
 */
export function cacheBootFileCheck(options: { maxAgeMs?: number; now?: () => number } = {}): PerConfigCache<BootFileCheck> {
  const reader = createKernelHeaderReader();
  return cachePerConfig(async (config) => {
    const check = await checkBootFiles(config, reader);
    reader.prune();
    return check;
  }, options);
}

/** A cached check of a config's files; forget() drops the answer, for when the files are known to have changed. */
export type PerConfigCache<T> = ((config: BootstationConfig) => Promise<T>) & { forget(): void };

/**
 * Wraps a check of the files on disk of a config: requests that arrive while a check runs share it, and its answer
 * is reused for maxAgeMs (default 2 s) or until the config changes or forget() is called, so a flood of requests
 * costs one check.
 */
export function cachePerConfig<T>(check: (config: BootstationConfig) => Promise<T>, options: { maxAgeMs?: number; now?: () => number } = {}): PerConfigCache<T> {
  const maxAgeMs = options.maxAgeMs ?? MISSING_FILES_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  let cached: { config: BootstationConfig; at: number; answer: Promise<T> } | undefined;
  const cachedCheck = (config: BootstationConfig): Promise<T> => {
    const at = now();
    if (cached === undefined || cached.config !== config || at - cached.at > maxAgeMs) {
      cached = { config, at, answer: check(config) };
    }
    return cached.answer;
  };
  return Object.assign(cachedCheck, { forget: () => void (cached = undefined) });
}
