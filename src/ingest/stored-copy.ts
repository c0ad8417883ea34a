// Copies files stored as they are in a local image (ISO 9660 file data) into new files, handing each chunk
// to the caller (who hashes it) on the way. Hashing the bytes takes one core (SHA-256 runs at ~1.7 GB/s)
// and reading and writing them about another, so a worker thread reads and writes with blocking calls
// through a few shared buffers while the main thread hashes: a threadpool read and write per chunk would
// instead wake two more threads to compete with the hashing for the cores, and wait on the event loop.
import { open as openFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { chunkRanges, type IsoExtent } from './iso9660/iso-image.ts';
import { Control, CONTROL_LENGTH, copyChunk, type CopyJob, type CopyReply, type CopyShared, type WorkerMessage } from './stored-copy-protocol.ts';

// Four 1 MiB buffers: the worker reads up to three chunks ahead of the hashing; larger ones (4, 8 MiB)
// measured no faster, hashing then reads them from further away than the CPU's L2.
const CHUNK_BYTES = 1024 * 1024;
const CHUNK_COUNT = 4;

// Node has Atomics.waitAsync; TypeScript's lib declares it only from ES2024 on.
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: unknown } }).waitAsync;

/** A worker thread and its buffers, for the copies of one extraction; close it when done. */
export class StoredCopier {
  /** Resolves once the worker thread has started: copies go to it from then on. */
  readonly started: Promise<void>;
  readonly #worker: Worker;
  readonly #buffers = new SharedArrayBuffer(CHUNK_COUNT * CHUNK_BYTES);
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_LENGTH * Int32Array.BYTES_PER_ELEMENT));
  #ready = false;
  #onStarted: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #pending: { resolve: (reply: CopyReply) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;

  constructor() {
    const shared: CopyShared = { buffers: this.#buffers, control: this.#control.buffer as SharedArrayBuffer, chunkBytes: CHUNK_BYTES, chunkCount: CHUNK_COUNT };
    // The worker module sits next to this one: .ts when run from source, .js in the build.
    const script = new URL(`./stored-copy-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    this.started = new Promise((resolve, reject) => {
      this.#onStarted = { resolve, reject };
    });
    // Nobody need wait for it.
    this.started.catch(() => undefined);
    this.#worker = new Worker(script, { workerData: shared });
    this.#worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) {
        this.#ready = true;
        this.#onStarted?.resolve();
        return;
      }
      this.#pending?.resolve(message);
      this.#pending = undefined;
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the copy worker thread exited with code ${code}`)));
  }

  /**
   * Copies `size` bytes at `extents` of the open descriptor `source` into a new file at `at` ('wx': never
   * through a link), calling `take` with each chunk in order; the chunk is only valid during the call.
   */
  async copy(source: number, extents: readonly IsoExtent[], size: number, at: string, take: (chunk: Uint8Array) => void): Promise<void> {
    if (this.#failure) throw this.#failure;
    const file = await openFile(at, 'wx');
    try {
      const start = await this.#copyUntilReady(source, file.fd, extents, size, take);
      if (start < size) await this.#copyInWorker({ source, target: file.fd, extents, start, size }, take);
      // As createWriteStream's flush: the file is on disk before the manifest says it is installed.
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** Stops the worker thread. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  // A worker thread takes ~40 ms to start: until it is ready, this thread copies (small files, or the start
  // of a large one) itself. Returns where the copy stopped.
  async #copyUntilReady(source: number, target: number, extents: readonly IsoExtent[], size: number, take: (chunk: Uint8Array) => void): Promise<number> {
    let offset = 0;
    const bytes = new Uint8Array(this.#buffers, 0, CHUNK_BYTES);
    for (const chunk of chunkRanges(extents, 0, size, CHUNK_BYTES)) {
      if (this.#failure) throw this.#failure;
      if (this.#ready) break;
      copyChunk(source, target, chunk, bytes, offset);
      take(bytes.subarray(0, chunk.length));
      offset += chunk.length;
      // Lets the worker's ready message in, and the rest of the process run.
      await nextTurn();
    }
    return offset;
  }

  async #copyInWorker(job: CopyJob, take: (chunk: Uint8Array) => void): Promise<void> {
    const control = this.#control;
    // Zeroing would clear the Failed flag of a worker that has died, so that case stops here.
    if (this.#failure) throw this.#failure;
    // The worker is idle between copies, so the counters start again at zero.
    control.fill(0);
    const reply = this.#reply();
    // Awaited below on every path; until then a failure must not count as unhandled.
    reply.catch(() => undefined);
    this.#worker.postMessage(job);
    try {
      let hashed = 0;
      for (const chunk of chunkRanges(job.extents, job.start, job.size, CHUNK_BYTES)) {
        for (let read = Atomics.load(control, Control.Read); read <= hashed; read = Atomics.load(control, Control.Read)) {
          if (Atomics.load(control, Control.Failed)) break;
          const wait = waitAsync(control, Control.Read, read);
          if (wait.async) await wait.value;
        }
        if (Atomics.load(control, Control.Failed)) break;
        take(new Uint8Array(this.#buffers, (hashed % CHUNK_COUNT) * CHUNK_BYTES, chunk.length));
        Atomics.store(control, Control.Hashed, ++hashed);
        Atomics.notify(control, Control.Hashed);
        // Chunks that are ready need no waiting: without this a whole file would hold the event loop.
        await nextTurn();
      }
    } catch (error) {
      Atomics.store(control, Control.Stop, 1);
      Atomics.notify(control, Control.Hashed);
      throw error;
    } finally {
      // The worker must be done with the descriptor and the buffers before either is given up.
      const result = await reply;
      if ('error' in result) throw Object.assign(new Error(result.error.message), result.error.code !== undefined ? { code: result.error.code } : {});
    }
  }

  #reply(): Promise<CopyReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
  }

  // A worker that failed to start or died answers no more jobs: wake a copy waiting for a chunk.
  #fail(error: Error): void {
    this.#failure ??= error;
    Atomics.store(this.#control, Control.Failed, 1);
    Atomics.notify(this.#control, Control.Read);
    this.#pending?.reject(this.#failure);
    this.#pending = undefined;
    this.#onStarted?.reject(this.#failure);
  }
}
