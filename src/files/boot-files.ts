import { open } from 'node:fs/promises';
import type { BootstationConfig } from '../config/model.ts';
import type { IpxeBinaries } from '../ipxe/binaries.ts';
import { openSafeFile, splitPlainPath, type SafeFileResult } from './safe-path.ts';

const AUTOEXEC_SCRIPT = 'autoexec.ipxe';

/** A file opened for random-access reads (what the TFTP service streams blocks from). */
export interface OpenedFile {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
  /** The descriptor, for copies that read it themselves (ingest's, from a worker thread); valid until close. */
  readonly fd: number;
  close(): Promise<void>;
}

/**
 * Finds the file a TFTP client names: a first-stage iPXE binary by name, `images/<id>/<path>` in the
 * image's folder, or anything else in the iPXE folder. Lookups ignore case (DOS-era clients upper-case
 * names) and never leave their folder; a refusal says why, for the log.
 */
export async function findBootFile(path: string, ipxe: IpxeBinaries, config: BootstationConfig): Promise<SafeFileResult> {
  const binary = [...ipxe.files].find(([name]) => name === path.toLowerCase());
  if (binary) return openSafeFile(ipxe.dir, [binary[0]], { followOutside: true });
  // iPXE 2.0 EFI builds run an autoexec.ipxe found next to them; with our embedded script that
  // corrupts the initrd, so none is ever served (and "not found" goes out at once).
  if (path.toLowerCase() === AUTOEXEC_SCRIPT) return { ok: false, reason: 'not-found' };
  const split = splitPlainPath(path);
  if (!split.ok) return split;
  const [first, id, ...rest] = split.segments;
  if (first?.toLowerCase() === 'images' && id !== undefined && rest.length > 0) {
    const image = config.images.find((candidate) => candidate.id === id.toLowerCase());
    if (!image) return { ok: false, reason: 'not-found' };
    return openSafeFile(image.dir, rest, { caseInsensitive: true });
  }
  return openSafeFile(ipxe.dir, split.segments, { caseInsensitive: true });
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
