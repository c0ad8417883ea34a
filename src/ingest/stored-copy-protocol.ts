// What StoredCopier (stored-copy.ts) and its worker thread (stored-copy-worker.ts) share: the buffers, the
// counters both sides wait on with Atomics, the messages of one copy, and the copy of one chunk.
import { readSync, writeSync } from 'node:fs';
import type { IsoExtent } from './iso9660/iso-image.ts';

/** Indexes of the shared Int32Array. */
export const Control = {
  /** Chunks the worker has read into the buffers (the main thread waits on it). */
  Read: 0,
  /** Chunks the main thread has hashed and no longer needs (the worker waits on it before reusing a buffer). */
  Hashed: 1,
  /** Set by the main thread: stop before the next chunk. */
  Stop: 2,
  /** Set by the worker when the copy failed, so a main thread waiting on Read wakes up. */
  Failed: 3,
} as const;
export const CONTROL_LENGTH = 4;

/** Given to the worker when it starts. */
export interface CopyShared {
  /** `chunkCount` buffers of `chunkBytes`, one after the other. */
  buffers: SharedArrayBuffer;
  control: SharedArrayBuffer;
  chunkBytes: number;
  chunkCount: number;
}

/** One copy: bytes `start` to `size` of the file stored in `extents` of the descriptor `source`, to `target`. */
export interface CopyJob {
  source: number;
  target: number;
  extents: readonly IsoExtent[];
  start: number;
  size: number;
}

/** What the worker posts: that it has started, or its answer to a job. */
export type WorkerMessage = { ready: true } | CopyReply;
export type CopyReply = { done: true } | { stopped: true } | { error: { message: string; code?: string } };

/** Reads `chunk` of `source` into `bytes`, calls `onRead`, and writes the bytes at `offset` of `target`, with blocking calls. */
export function copyChunk(source: number, target: number, chunk: IsoExtent, bytes: Uint8Array, offset: number, onRead: () => void = () => {}): void {
  const got = readSync(source, bytes, 0, chunk.length, chunk.position);
  if (got !== chunk.length) throw new Error(`source ends early (short read) at byte ${chunk.position + got}`);
  onRead();
  for (let done = 0; done < got; ) {
    const count = writeSync(target, bytes, done, got - done, offset + done);
    if (count === 0) throw new Error(`the file system took no bytes at byte ${offset + done}`);
    done += count;
  }
}
