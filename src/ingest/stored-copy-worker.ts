// The worker thread of StoredCopier (stored-copy.ts): copies a file's extents from one descriptor to another
// with blocking reads and writes, one chunk at a time through the shared buffers, and publishes each chunk
// as soon as it is read, so the main thread hashes it while it is being written.
import { parentPort, workerData } from 'node:worker_threads';
import { chunkRanges } from './iso9660/iso-image.ts';
import { Control, copyChunk, type CopyJob, type CopyReply, type CopyShared, type WorkerMessage } from './stored-copy-protocol.ts';

const { buffers, control: controlBuffer, chunkBytes, chunkCount } = workerData as CopyShared;
const control = new Int32Array(controlBuffer);
const post = (message: WorkerMessage): void => parentPort?.postMessage(message);

parentPort?.on('message', (job: CopyJob) => {
  let reply: CopyReply;
  try {
    reply = copy(job) ? { done: true } : { stopped: true };
  } catch (error) {
    const { message, code } = error as NodeJS.ErrnoException;
    reply = { error: { message, ...(code !== undefined ? { code } : {}) } };
    // A main thread waiting for the next chunk learns of the failure now, not after the reply.
    Atomics.store(control, Control.Failed, 1);
    Atomics.notify(control, Control.Read);
  }
  post(reply);
});
post({ ready: true });

/** Copies the job's chunks; false when the main thread asked to stop. */
function copy(job: CopyJob): boolean {
  let read = 0;
  let offset = job.start;
  for (const chunk of chunkRanges(job.extents, job.start, job.size, chunkBytes)) {
    // A buffer is free once the main thread has hashed the chunk it held last (its write was ours, done).
    for (;;) {
      if (Atomics.load(control, Control.Stop)) return false;
      const hashed = Atomics.load(control, Control.Hashed);
      if (hashed > read - chunkCount) break;
      Atomics.wait(control, Control.Hashed, hashed);
    }
    const bytes = new Uint8Array(buffers, (read % chunkCount) * chunkBytes, chunk.length);
    // Published before it is written: the main thread hashes while this thread writes.
    copyChunk(job.source, job.target, chunk, bytes, offset, () => {
      Atomics.store(control, Control.Read, ++read);
      Atomics.notify(control, Control.Read);
    });
    offset += chunk.length;
  }
  return true;
}
