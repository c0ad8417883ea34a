// Writes a byte range of a file into an HTTP response through a few recycled buffers. Node has no sendfile;
// a read stream hands the socket a freshly allocated buffer per chunk, and with many large downloads those
// buffers (page-faulted in, zeroed by the kernel, freed only by full garbage collections) cost more CPU and
// memory than the copying itself. Here a buffer is reused as soon as the socket reports it written.
import type { ServerResponse } from 'node:http';
import { open } from 'node:fs/promises';

/** Bytes per read and per socket write: fewer, larger chunks leave the one JavaScript thread more time for sockets. */
export const FILE_CHUNK_BYTES = 512 * 1024;
// Chunks a response may have in flight at once: one being written while the next is read and one queued
// behind it, so the socket of a lone download never waits for the disk.
const BUFFERS_PER_RESPONSE = 3;
// Buffers beyond each response's first, shared by all responses. With many downloads at once the others keep
// the disk and the sockets busy, so read-ahead per download adds little and memory stays near one chunk per
// download; the first buffer is never refused, so slow or stalled clients cannot hold up the rest.
const SHARED_EXTRA_BUFFERS = 8;
// Idle buffers kept for the next responses; more are left to the garbage collector.
const POOLED_BUFFERS = 16;

const idle: Buffer[] = [];
let extrasInUse = 0;

function takeBuffer(): Buffer {
  return idle.pop() ?? Buffer.allocUnsafeSlow(FILE_CHUNK_BYTES);
}

function returnBuffer(buffer: Buffer): void {
  if (idle.length < POOLED_BUFFERS) idle.push(buffer);
}

/** Why a file body stopped early: the client went away or stopped taking data, or the file could not be read as planned. */
export class FileBodyError extends Error {
  readonly clientGone: boolean;
  /** The client took no data for the stall bound and the connection was cut. */
  readonly stalled: boolean;
  constructor(message: string, clientGone: boolean, options?: ErrorOptions & { stalled?: boolean }) {
    super(message, options);
    this.clientGone = clientGone;
    this.stalled = options?.stalled ?? false;
  }
}

/** A response whose client takes no data for this long is cut, unless the caller says otherwise. */
export const DEFAULT_STALL_MS = 30_000;

/**
 * Writes bytes start..end (inclusive) of the file at `path` to `response`, whose status and headers are already
 * set, then ends it. Resolves when the last byte is handed to the socket; rejects with FileBodyError when the
 * client hangs up, takes no data for `stallMs`, or the file vanishes, shrinks or fails to read (the response is
 * then destroyed: a short body must not look complete).
 */
export async function writeFileBody(path: string, start: number, end: number, response: ServerResponse, options: { stallMs?: number } = {}): Promise<void> {
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const handle = await open(path, 'r').catch((error: unknown) => {
    response.destroy();
    throw new FileBodyError(`${path} could not be opened: ${(error as Error).message}`, false, { cause: error });
  });
  const free: Buffer[] = [];
  const writes = new Set<Promise<void>>();
  let owned = 0;
  let inHand: Buffer | undefined;
  let failure: FileBodyError | undefined;
  // A client that stops reading holds a buffer and a connection for as long as it likes; each chunk the socket
  // takes restarts the clock. Destroying the response makes the writes it holds call back, ending the loop.
  const stall = setTimeout(() => {
    failure ??= new FileBodyError(`the client took no data for ${stallMs / 1000} s`, true, { stalled: true });
    response.destroy();
  }, stallMs);
  /** A buffer the socket no longer holds: an idle one of ours, a new one while allowed, else after a write. */
  const nextBuffer = async (): Promise<Buffer | undefined> => {
    while (failure === undefined) {
      const buffer = free.pop();
      if (buffer !== undefined) return buffer;
      const extra = owned > 0;
      if (!extra || (owned < BUFFERS_PER_RESPONSE && extrasInUse < SHARED_EXTRA_BUFFERS)) {
        owned += 1;
        if (extra) extrasInUse += 1;
        return takeBuffer();
      }
      await Promise.race(writes);
    }
    return undefined;
  };
  try {
    for (let position = start; position <= end; ) {
      inHand = await nextBuffer();
      if (inHand === undefined) break;
      const buffer = inHand;
      const wanted = Math.min(FILE_CHUNK_BYTES, end + 1 - position);
      const { bytesRead } = await handle.read(buffer, 0, wanted, position);
      if (bytesRead < wanted) {
        failure ??= new FileBodyError(`${path} ended at byte ${position + bytesRead} while ${end + 1 - start} bytes from ${start} were being sent (file changed?)`, false);
        break;
      }
      if (response.destroyed || failure !== undefined) {
        failure ??= new FileBodyError('client closed the connection', true);
        break;
      }
      inHand = undefined;
      position += bytesRead;
      const written: Promise<void> = new Promise((resolve) => {
        response.write(buffer.subarray(0, bytesRead), (error) => {
          writes.delete(written);
          stall.refresh();
          // Only now is the buffer out of the socket's hands: reuse it.
          free.push(buffer);
          if (error && failure === undefined) failure = new FileBodyError('client closed the connection', true, { cause: error });
          resolve();
        });
      });
      writes.add(written);
    }
    await Promise.all(writes);
  } catch (error) {
    failure ??= new FileBodyError(`${path} could not be read: ${(error as Error).message}`, false, { cause: error });
    await Promise.all(writes);
  } finally {
    clearTimeout(stall);
    if (inHand !== undefined) free.push(inHand);
    for (const buffer of free) returnBuffer(buffer);
    extrasInUse -= Math.max(0, owned - 1);
    // The response ends in the tick its last byte leaves, not after the file closes: a client that has every byte
    // may ask for the next file (or the server may be closing) meanwhile, and an unended response keeps the
    // connection from counting as idle.
    if (failure === undefined) response.end();
    else response.destroy();
    await handle.close();
  }
  if (failure !== undefined) throw failure;
}
