// Which boot files of each image are missing on disk, with the short-lived cache the HTTP routes and dashboard share.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFilesOf, type BootstationConfig } from '../config/model.ts';

/** Checks every image's kernel and initrds (for every firmware) on disk; returns image id → missing files (complete images absent). */
export async function findMissingBootFiles(config: BootstationConfig): Promise<Map<string, string[]>> {
  const missing = new Map<string, string[]>();
  await Promise.all(
    config.images.map(async (image) => {
      const files = bootFilesOf(image);
      const present = await Promise.all(files.map((file) => stat(join(image.dir, file)).then((s) => s.isFile(), () => false)));
      const absent = files.filter((_, i) => !present[i]);
      if (absent.length > 0) missing.set(image.id, absent);
    }),
  );
  return missing;
}

/** findMissingBootFiles as a function of the live config, answered from a short-lived cache. */
export type MissingBootFiles = (config: BootstationConfig) => Promise<Map<string, string[]>>;

// A file that appears (an ingest finished, a file was copied in) shows in the menu within this time.
const MISSING_FILES_MAX_AGE_MS = 2000;

/**
 * findMissingBootFiles behind a cache (see cachePerConfig). Every /boot.ipxe and /menu.ipxe needs it, and a check
 * stats every file of every image: 200 requests at once with 300 images of 4 files queued 240,000 stats on libuv's
 * 4 threads, in front of the file reads of every download, and /healthz waited 16.7 s.
 */
export function cacheMissingBootFiles(options: { maxAgeMs?: number; now?: () => number } = {}): PerConfigCache<Map<string, string[]>> {
  return cachePerConfig(findMissingBootFiles, options);
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
