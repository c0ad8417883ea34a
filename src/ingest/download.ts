// Downloads an archive into the cache: streamed to a .part file, hashed on the way, resumed with Range
// after an interruption, retried with backoff on transient failures only, verified before it counts.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { Got } from 'got';
import { redactUrl } from '../config/redact-url.ts';
import type { Digest } from './checksum-list.ts';
import { continuesAt, parseContentRange, parseUnsatisfiedRange } from './content-range.ts';
import { diskFullError, freeBytes, isDiskFull } from './disk-space.ts';
import { failureError, isTransient, type FailureFacts } from './download-failure.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import type { ProgressSnapshot } from './progress.ts';

/** Connection, first-byte and idle limits of one request, in milliseconds. */
export interface DownloadTimeouts {
  connect: number;
  /** From the request sent to the response headers. */
  response: number;
  /** Longest silence while the body streams. */
  idle: number;
}

/** Defaults for real mirrors: slow ones take a while to answer, a silent minute means a dead connection. */
export const DEFAULT_TIMEOUTS: DownloadTimeouts = { connect: 15_000, response: 30_000, idle: 60_000 };

/** Where progress goes (a TTY line or periodic log lines; see progress-reporter.ts). */
export interface ProgressSink {
  update(snapshot: ProgressSnapshot): void;
  done(): void;
}

/** Everything one download needs; the HTTP client, clock and sleep are parameters so tests control them. */
export interface DownloadOptions {
  http: Got;
  url: string;
  cacheDir: string;
  /** File name in the cache (unique per URL). */
  fileName: string;
  expected?: Digest;
  /** What a digest mismatch tells the user to check: where `expected` came from ("check the checksum in images.yaml or the mirror" by default). */
  mismatchFix?: string;
  timeouts?: DownloadTimeouts;
  /** Retries after the first attempt, for transient failures. */
  retries?: number;
  /** Wait before retry n (1-based); exponential from 1 s, at most 30 s, unless the server said Retry-After. */
  backoffMs?: (retry: number) => number;
  /**
   * The shutdown signal: it aborts the request and the wait before a retry, and once it is aborted the download
   * rejects with its reason (an AbortError) at once, never retried; the .part stays for the next run to resume.
   */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  progress?: ProgressSink;
  /** Free bytes on the cache's file system (statfs by default); a download larger than that stops before it starts. */
  freeBytes?: (dir: string) => Promise<number>;
  /** What the download is for, in a "disk full" message (the image id); the URL, redacted, when absent. */
  what?: string;
  /** Take a complete copy from the cache when its record matches (default true). */
  reuse?: boolean;
  log: (message: string) => void;
}

/** A complete, verified archive in the cache. */
export interface DownloadedArchive {
  path: string;
  size: number;
  sha256: string;
  /** The digest of the expected algorithm, checked against `expected` (sha256 when none was expected). */
  digest: Digest;
  /** Taken from the cache without any request. */
  reused: boolean;
}

interface CacheRecord {
  url: string;
  size: number;
  sha256: string;
  digests: Record<string, string>;
}

// Bytes one attempt must deliver before its failure stops counting against the retries.
const PROGRESS_RESETS_RETRIES = 8 * 1024 * 1024;

/** A request that must start again from byte 0 (the server ignored or garbled Range); not a failure. */
class RestartFromZero extends Error {}

/** Downloads `url` into the cache (or reuses a complete, verified copy there) and checks it against `expected`. */
export async function downloadToCache(options: DownloadOptions): Promise<DownloadedArchive> {
  const { url, cacheDir, fileName, expected } = options;
  // Logs and errors show the URL without its userinfo and query, which may hold credentials.
  const shown = redactUrl(url);
  const finalPath = join(cacheDir, fileName);
  const recordPath = `${finalPath}.json`;
  const partPath = `${finalPath}.part`;
  await mkdir(cacheDir, { recursive: true });

  const cached = options.reuse === false ? undefined : await reusableCopy(finalPath, recordPath, url, expected);
  if (cached) return cached;

  const retries = options.retries ?? 5;
  const signal = options.signal;
  // A shutdown must not wait out a backoff (up to 30 s) or a server's Retry-After (up to 120 s).
  const sleep = options.sleep ?? ((ms: number) => delay(ms, undefined, signal ? { signal } : {}));
  const backoff = options.backoffMs ?? ((retry: number) => Math.min(30_000, 1000 * 2 ** (retry - 1)));
  let hashes: Hashes | undefined;
  let failures = 0;
  for (;;) {
    const partSize = await stat(partPath).then((s) => s.size, () => 0);
    if (!hashes || hashes.bytes !== partSize) {
      // A .part left by an earlier run: its bytes are hashed once, then the download continues after them.
      hashes = await hashExisting(partPath, partSize, expected, signal);
      if (partSize > 0) options.log(`resuming ${shown} at byte ${partSize}`);
    }
    const startedAt = hashes.bytes;
    try {
      await fetchOnce(options, partPath, hashes);
      break;
    } catch (error) {
      // A connection that delivered a good part before it broke is progress, not a failing server: the
      // retry budget starts over, so a long download over a flaky link still finishes.
      if (hashes.bytes - startedAt >= PROGRESS_RESETS_RETRIES) failures = 0;
      if (error instanceof RestartFromZero) {
        options.log(`${shown}: the server answered a different range than byte ${hashes.bytes} onwards; downloading it again from the start`);
        await truncate(partPath, 0);
        hashes = undefined;
        continue;
      }
      signal?.throwIfAborted();
      if (error instanceof IngestError) throw error;
      if (isDiskFull(error)) {
        options.progress?.done();
        // A resume would stop at the same byte, and a full data disk starves everything else meanwhile.
        await rm(partPath, { force: true });
        const free = await (options.freeBytes ?? freeBytes)(cacheDir).catch(() => 0);
        const total = hashes.expectedTotal;
        throw diskFullError({ where: cacheDir, what: options.what ?? shown, needed: total ?? hashes.bytes, atLeast: total === undefined }, free, error);
      }
      const facts = factsOf(url, error);
      if (!isTransient(facts) || failures >= retries) {
        options.progress?.done();
        throw failureError(facts, failures + 1);
      }
      failures++;
      const wait = retryAfterMs(error) ?? backoff(failures);
      options.log(`${shown}: ${facts.status !== undefined ? `HTTP ${facts.status}` : facts.code}; retry ${failures} of ${retries} in ${Math.round(wait / 1000)} s`);
      await sleep(wait).catch((error: unknown) => {
        signal?.throwIfAborted();
        throw error;
      });
      signal?.throwIfAborted();
    }
  }
  options.progress?.done();

  const size = hashes.bytes;
  const sha256 = hashes.sha256.digest('hex');
  const digest: Digest = expected ? { algorithm: expected.algorithm, value: hashes.other ? hashes.other.digest('hex') : sha256 } : { algorithm: 'sha256', value: sha256 };
  if (expected && digest.value !== expected.value) {
    // A corrupt or substituted download must not be resumed or reused.
    await rm(partPath, { force: true });
    throw new IngestError(
      IngestErrorCode.ChecksumMismatch,
      `${shown} has ${expected.algorithm} ${digest.value}, but ${expected.value} was expected; the download was deleted and nothing was installed — ${options.mismatchFix ?? 'check the checksum in images.yaml or the mirror'}`,
    );
  }
  const record: CacheRecord = { url, size, sha256, digests: { sha256, [digest.algorithm]: digest.value } };
  await rename(partPath, finalPath);
  await writeFile(recordPath, JSON.stringify(record) + '\n');
  return { path: finalPath, size, sha256, digest, reused: false };
}

async function reusableCopy(finalPath: string, recordPath: string, url: string, expected: Digest | undefined): Promise<DownloadedArchive | undefined> {
  const record = await readFile(recordPath, 'utf8').then((text) => JSON.parse(text) as CacheRecord, () => undefined);
  const size = await stat(finalPath).then((s) => s.size, () => undefined);
  if (!record || record.url !== url || size !== record.size) return undefined;
  const value = expected ? record.digests[expected.algorithm] : record.sha256;
  if (value === undefined || (expected && value !== expected.value)) return undefined;
  return { path: finalPath, size, sha256: record.sha256, digest: expected ?? { algorithm: 'sha256', value }, reused: true };
}

interface Hashes {
  bytes: number;
  sha256: Hash;
  /** The expected algorithm's hash, when it is not sha256. */
  other: Hash | undefined;
  algorithm: Digest['algorithm'] | undefined;
  /** The whole file's size, when the server said it (Content-Length or Content-Range). */
  expectedTotal?: number | undefined;
}

async function hashExisting(path: string, size: number, expected: Digest | undefined, signal: AbortSignal | undefined): Promise<Hashes> {
  const hashes: Hashes = {
    bytes: 0,
    sha256: createHash('sha256'),
    other: expected && expected.algorithm !== 'sha256' ? createHash(expected.algorithm) : undefined,
    algorithm: expected?.algorithm,
  };
  if (size === 0) return hashes;
  for await (const chunk of createReadStream(path, { end: size - 1, highWaterMark: 1024 * 1024 })) {
    // A .part of gigabytes takes seconds to hash.
    signal?.throwIfAborted();
    update(hashes, chunk as Buffer);
  }
  return hashes;
}

function resetHashes(hashes: Hashes): void {
  hashes.bytes = 0;
  hashes.sha256 = createHash('sha256');
  hashes.other = hashes.algorithm && hashes.algorithm !== 'sha256' ? createHash(hashes.algorithm) : undefined;
}

function update(hashes: Hashes, chunk: Uint8Array): void {
  hashes.sha256.update(chunk);
  hashes.other?.update(chunk);
  hashes.bytes += chunk.length;
}

// One request: from byte hashes.bytes to the end (or from 0 when the server ignores Range).
async function fetchOnce(options: DownloadOptions, partPath: string, hashes: Hashes): Promise<void> {
  const offset = hashes.bytes;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const request = options.http.stream(options.url, {
    headers: { 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
    // We resume ourselves, so got must not retry a stream behind our back; bodies are stored as sent.
    retry: { limit: 0 },
    decompress: false,
    throwHttpErrors: false,
    timeout: { lookup: timeouts.connect, connect: timeouts.connect, secureConnect: timeouts.connect, response: timeouts.response, socket: timeouts.idle },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const response = await new Promise<{ statusCode: number; statusMessage?: string; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  const status = response.statusCode;
  const header = (name: string): string | undefined => {
    const value = response.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  if (status === 416 && offset > 0) {
    request.destroy();
    // The .part already holds the whole file (an earlier run was cut right at the end).
    if (parseUnsatisfiedRange(header('content-range')) === offset) return;
    throw new RestartFromZero();
  }
  if (status >= 400) {
    request.destroy();
    throw new HttpStatusFailure(status, response.statusMessage, header('retry-after'));
  }
  let resumedFrom = offset;
  if (offset > 0 && status === 200) {
    // The server ignores Range and sends the whole file: take it from byte 0 rather than ask again.
    options.log(`${redactUrl(options.url)}: the server did not continue at byte ${offset}; downloading it again from the start`);
    resetHashes(hashes);
    resumedFrom = 0;
  } else if (offset > 0 && !continuesAt(status, header('content-range'), offset)) {
    request.destroy();
    throw new RestartFromZero();
  }
  const total = status === 206 ? parseContentRange(header('content-range'))?.complete : optionalNumber(header('content-length'));
  hashes.expectedTotal = total;
  if (total !== undefined) {
    const needed = total - resumedFrom;
    const free = await (options.freeBytes ?? freeBytes)(options.cacheDir);
    if (needed > free) {
      request.destroy();
      throw diskFullError({ where: options.cacheDir, what: options.what ?? redactUrl(options.url), needed }, free);
    }
  }
  const now = options.now ?? Date.now;
  const started = now();
  const handle = await open(partPath, resumedFrom > 0 ? 'a' : 'w');
  try {
    await pipeline(request, hashingWriter(handle, hashes, (received) => options.progress?.update({ received, total, resumedFrom, elapsedMs: now() - started })));
  } finally {
    await handle.close();
  }
  // A connection closed cleanly before Content-Length is a cut, not the end: resume it.
  if (total !== undefined && hashes.bytes !== total) throw Object.assign(new Error('body ended early'), { code: 'INGEST_TRUNCATED' });
}

// Hashes exactly what reached the file, so after any interruption the hash state and the .part agree.
function hashingWriter(handle: FileHandle, hashes: Hashes, onBytes: (received: number) => void): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      handle.write(chunk).then(
        () => {
          update(hashes, chunk);
          onBytes(hashes.bytes);
          callback();
        },
        callback,
      );
    },
  });
}

class HttpStatusFailure extends Error {
  readonly status: number;
  readonly statusText: string | undefined;
  readonly retryAfter: string | undefined;

  constructor(status: number, statusText: string | undefined, retryAfter: string | undefined) {
    super(`HTTP ${status}`);
    this.status = status;
    this.statusText = statusText;
    this.retryAfter = retryAfter;
  }
}

function factsOf(url: string, error: unknown): FailureFacts {
  if (error instanceof HttpStatusFailure) return { url, status: error.status, ...(error.statusText ? { statusMessage: error.statusText } : {}) };
  const code = (error as { code?: unknown }).code;
  return { url, code: typeof code === 'string' ? code : 'unknown' };
}

// Retry-After in seconds (429, 503), capped so a hostile server cannot park the ingest.
function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof HttpStatusFailure) || error.retryAfter === undefined || !/^\d+$/.test(error.retryAfter)) return undefined;
  return Math.min(Number(error.retryAfter) * 1000, 120_000);
}

function optionalNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
