// A file opened for block reads: what the TFTP service streams from and ingest copies from.
import { open } from 'node:fs/promises';

/** A file opened for random-access reads (what the TFTP service streams blocks from). */
export interface OpenedFile {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
  /** The descriptor, for copies that read it themselves (ingest's, from a worker thread); valid until close. */
  readonly fd: number;
  close(): Promise<void>;
}

/** Opens a found file for block reads. */
export async function openForReading(path: string): Promise<OpenedFile> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(position, length) {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    },
    fd: handle.fd,
    close: () => handle.close(),
  };
}
