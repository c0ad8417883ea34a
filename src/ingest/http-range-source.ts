// A remote file read through HTTP Range requests, for `source.fetch: files`: the ISO reader (or yauzl)
// reads directories and the wanted files from it without downloading the rest.
import type { Got } from 'got';
import { redactUrl } from '../config/redact-url.ts';
import { parseContentRange } from './content-range.ts';
import type { DownloadTimeouts } from './download.ts';
import { DEFAULT_TIMEOUTS } from './download.ts';
import { failureError, isTransient, type FailureFacts } from './download-failure.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import type { RandomAccessSource } from './iso9660/iso-image.ts';

// Small reads (descriptors, directory records, zip headers) are rounded up to windows kept in a small
// cache, so walking a tree costs one request per directory rather than one per record.
const WINDOW = 64 * 1024;
const WINDOWS_KEPT = 16;
const RETRIES = 3;

/** One answer to a Range request: its status and headers, and the body only when it is the 206 asked for. */
interface RangeAnswer {
  status: number;
  statusMessage: string | undefined;
  contentRange: string | undefined;
  body: Uint8Array | undefined;
}

/** Opens `url` as a random-access source when the server answers a Range request with 206; undefined when it does not support ranges. */
export async function openHttpRangeSource(
  http: Got,
  url: string,
  timeouts: DownloadTimeouts = DEFAULT_TIMEOUTS,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<RandomAccessSource | undefined> {
  // A stream, not got's buffered promise: a server that ignores Range would otherwise send the whole ISO
  // into memory. Anything but the 206 asked for is cut off after the headers.
  const once = (first: number, last: number): Promise<RangeAnswer> =>
    new Promise((resolve, reject) => {
      const request = http.stream(url, {
        headers: { range: `bytes=${first}-${last}`, 'accept-encoding': 'identity' },
        throwHttpErrors: false,
        decompress: false,
        retry: { limit: 0 },
        timeout: { lookup: timeouts.connect, connect: timeouts.connect, secureConnect: timeouts.connect, response: timeouts.response, socket: timeouts.idle },
      });
      request.once('error', reject);
      request.once('response', (response: { statusCode: number; statusMessage?: string; headers: Record<string, string | string[] | undefined> }) => {
        const header = response.headers['content-range'];
        const answer = { status: response.statusCode, statusMessage: response.statusMessage, contentRange: Array.isArray(header) ? header[0] : header };
        if (response.statusCode !== 206 || parseContentRange(answer.contentRange)?.first !== first) {
          request.destroy();
          resolve({ ...answer, body: undefined });
          return;
        }
        const wanted = last - first + 1;
        const chunks: Buffer[] = [];
        let length = 0;
        request.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
          if (length > wanted) request.destroy(new Error(`more than the ${wanted} bytes asked for`));
        });
        request.once('end', () => resolve({ ...answer, body: Buffer.concat(chunks, length) }));
      });
    });
  // Reads are small and idempotent: transient failures are retried a few times, with pauses.
  const get = async (first: number, last: number): Promise<RangeAnswer> => {
    for (let retry = 0; ; retry++) {
      let facts: FailureFacts;
      try {
        const answer = await once(first, last);
        if (!isTransient({ url, status: answer.status }) || retry === RETRIES) return answer;
        facts = { url, status: answer.status };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        facts = { url, code: typeof code === 'string' ? code : 'unknown' };
        if (!isTransient(facts) || retry === RETRIES) throw failureError(facts, retry + 1);
      }
      await sleep(500 * 2 ** retry);
    }
  };
  const probe = await get(0, 0);
  if (probe.status >= 400 && probe.status !== 416) throw failureError({ url, status: probe.status, ...(probe.statusMessage ? { statusMessage: probe.statusMessage } : {}) }, 1);
  const range = parseContentRange(probe.contentRange);
  if (!probe.body || range?.complete === undefined) return undefined;
  const size = range.complete;

  const windows = new Map<number, Promise<Uint8Array>>();
  const fetchRange = async (position: number, length: number): Promise<Uint8Array> => {
    const last = Math.min(size, position + length) - 1;
    const answer = await get(position, last);
    if (answer.status >= 400) throw failureError({ url, status: answer.status, ...(answer.statusMessage ? { statusMessage: answer.statusMessage } : {}) }, RETRIES + 1);
    if (!answer.body) {
      throw new IngestError(
        IngestErrorCode.HttpStatus,
        `${redactUrl(url)} answered a Range request for byte ${position} with HTTP ${answer.status} and other bytes; set fetch: all on this source to download it whole`,
      );
    }
    return answer.body;
  };
  const windowAt = (index: number): Promise<Uint8Array> => {
    let cached = windows.get(index);
    if (cached) {
      windows.delete(index);
    } else {
      cached = fetchRange(index * WINDOW, WINDOW);
      cached.catch(() => windows.delete(index));
    }
    windows.set(index, cached);
    while (windows.size > WINDOWS_KEPT) windows.delete(windows.keys().next().value!);
    return cached;
  };

  return {
    size,
    async read(position, length) {
      const end = Math.min(size, position + length);
      if (end <= position) return new Uint8Array(0);
      // Large reads (file data) go straight through; small ones come from the windows.
      if (end - position >= WINDOW) return fetchRange(position, end - position);
      const first = Math.floor(position / WINDOW);
      const last = Math.floor((end - 1) / WINDOW);
      const parts = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => windowAt(first + i)));
      const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      const offset = position - first * WINDOW;
      return joined.subarray(offset, offset + (end - position));
    },
  };
}
