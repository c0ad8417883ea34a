// Fetches a distro's release index (Release, SHA256SUMS, latest-releases.yaml) over HTTP with a byte cap and the ingest's timeouts.
import type { Got } from 'got';
import { redactUrl } from '../../config/redact-url.ts';
import { DEFAULT_TIMEOUTS, type DownloadTimeouts } from '../download.ts';
import { failureError } from '../download-failure.ts';
import { IngestError, IngestErrorCode } from '../ingest-error.ts';
import type { FetchIndex } from './release-request.ts';

/** The longest an index of up to 4 MiB (Debian's Release cap) may take: 35 KB/s. */
export const INDEX_DEADLINE_MS = 120_000;

/**
 * The whole-fetch deadline for an index of at most `maxBytes`: INDEX_DEADLINE_MS, or longer for a bigger one at the
 * same 35 KB/s (Debian's 13 MB Packages.gz gets 380 s, so a slow NAS uplink still finds memtest86+).
 */
export function indexDeadlineMs(maxBytes: number): number {
  return Math.max(INDEX_DEADLINE_MS, Math.ceil(maxBytes / 35_000) * 1000);
}

/**
 * A FetchIndex over `http`: undefined for 404/410, an IngestError for other statuses, network failures and oversize
 * bodies; once `signal` is aborted (a shutdown) the fetch stops and rejects with the signal's reason, not retried.
 */
export function httpIndexFetcher(http: Got, options: { timeouts?: DownloadTimeouts; retries?: number; deadlineMs?: number; signal?: AbortSignal } = {}): FetchIndex {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  return async (url, maxBytes) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let status = 0;
    let statusMessage: string | undefined;
    try {
      const stream = http.stream(url, {
        throwHttpErrors: false,
        retry: { limit: options.retries ?? 3 },
        // request: a whole-index deadline, so a server dripping bytes under the idle timeout cannot hold the ingest.
        timeout: { lookup: timeouts.connect, connect: timeouts.connect, response: timeouts.response, socket: timeouts.idle, request: options.deadlineMs ?? indexDeadlineMs(maxBytes) },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      stream.once('response', (response: { statusCode: number; statusMessage?: string }) => {
        status = response.statusCode;
        statusMessage = response.statusMessage;
      });
      for await (const chunk of stream) {
        if (status >= 400) break;
        received += (chunk as Buffer).length;
        // A lying or hostile index stops at the cap instead of filling memory.
        if (received > maxBytes) {
          stream.destroy();
          throw new IngestError(IngestErrorCode.ReleaseIndex, `the release index ${redactUrl(url)} is larger than ${maxBytes} bytes, far more than the real one; check the mirror`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      options.signal?.throwIfAborted();
      if (error instanceof IngestError) throw error;
      throw failureError({ url, code: (error as { code?: string }).code ?? 'unknown' }, 1);
    }
    if (status === 404 || status === 410) return undefined;
    if (status >= 400) throw failureError({ url, status, ...(statusMessage ? { statusMessage } : {}) }, 1);
    // A Buffer is a Uint8Array: no second copy (Debian's Packages.gz is 13 MB, and copying it blocked for about 30 ms).
    return Buffer.concat(chunks, received);
  };
}
