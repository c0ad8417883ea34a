// A remote file read through HTTP Range requests, for `source.fetch: files`: the ISO reader (or yauzl)
// reads directories and the wanted files from it without downloading the rest.
import type { Got } from 'got';
import { parseContentRange } from './content-range.ts';
import type { DownloadTimeouts } from './download.ts';
import { DEFAULT_TIMEOUTS } from './download.ts';
import { failureError } from './download-failure.ts';
import type { RandomAccessSource } from './iso9660/iso-image.ts';

// Small reads (descriptors, directory records, zip headers) are rounded up to windows kept in a small
// cache, so walking a tree costs one request per directory rather than one per record.
const WINDOW = 64 * 1024;
const WINDOWS_KEPT = 16;

/** Opens `url` as a random-access source when the server answers a Range request with 206; undefined when it does not support ranges. */
export async function openHttpRangeSource(http: Got, url: string, timeouts: DownloadTimeouts = DEFAULT_TIMEOUTS): Promise<RandomAccessSource | undefined> {
  const get = (first: number, last: number) =>
    http.get(url, {
      headers: { range: `bytes=${first}-${last}`, 'accept-encoding': 'identity' },
      responseType: 'buffer',
      throwHttpErrors: false,
      decompress: false,
      // got retries GET on resets, timeouts, 5xx and 429 by itself; a read is small, so starting it over is fine.
      retry: { limit: 3 },
      timeout: { lookup: timeouts.connect, connect: timeouts.connect, secureConnect: timeouts.connect, response: timeouts.response, socket: timeouts.idle },
    });
  const fail = (error: unknown): never => {
    const code = (error as { code?: unknown }).code;
    throw failureError({ url, code: typeof code === 'string' ? code : 'unknown' }, 4);
  };
  const probe = await get(0, 0).catch(fail);
  if (probe.statusCode >= 400 && probe.statusCode !== 416) throw failureError({ url, status: probe.statusCode, statusMessage: probe.statusMessage }, 1);
  const range = parseContentRange(probe.headers['content-range']);
  if (probe.statusCode !== 206 || range?.first !== 0 || range.complete === undefined) return undefined;
  const size = range.complete;

  const windows = new Map<number, Promise<Uint8Array>>();
  const fetchRange = async (position: number, length: number): Promise<Uint8Array> => {
    const last = Math.min(size, position + length) - 1;
    const response = await get(position, last).catch(fail);
    const answered = parseContentRange(response.headers['content-range']);
    if (response.statusCode !== 206 || answered?.first !== position) {
      throw failureError({ url, status: response.statusCode === 206 ? 502 : response.statusCode, statusMessage: 'no usable Range answer' }, 1);
    }
    return response.body;
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
