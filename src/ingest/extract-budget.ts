// The cap on the bytes one image may extract: a small archive can declare, or inflate to, far more than
// the disk holds (a gzip of zeros shrinks about 1000:1), so every file's declared size is counted before
// it is written and every byte while it is written, and the extraction stops at the cap.
import { IngestError, IngestErrorCode } from './ingest-error.ts';
import { formatBytes } from '../text/format.ts';

/**
 * Default cap: 16 GiB. The largest boot images ingested whole are ~4–6 GB (Ubuntu desktop ISO, Fedora
 * and Debian live squashfs), so this leaves more than double that for growth while a bomb stops long
 * before it fills a typical NAS volume. images.yaml raises or lowers it per image (source.max_extracted_size).
 */
export const DEFAULT_MAX_EXTRACTED_BYTES = 16 * 1024 ** 3;

/** Counts the bytes an extraction declares and writes against its cap; throws TooLarge once past it. */
export class ExtractBudget {
  readonly cap: number;
  readonly #archiveName: string;
  #declared = 0;
  #written = 0;
  #total: number | undefined;

  constructor(cap: number, archiveName: string) {
    this.cap = cap;
    this.#archiveName = archiveName;
  }

  /** Bytes the extraction will need: the archive's declared total when known, else what it declared so far. */
  get needed(): { bytes: number; atLeast: boolean } {
    return this.#total !== undefined ? { bytes: this.#total, atLeast: false } : { bytes: Math.max(this.#declared, this.#written), atLeast: true };
  }

  /** The total the archive's directory declares for the files to extract (zip, ISO): refused at once when over the cap. */
  declareTotal(bytes: number): void {
    if (bytes > this.cap) throw this.#tooLarge(`declares ${formatBytes(bytes)} of files to extract`);
    this.#total = bytes;
  }

  /** One file about to be written, with its declared size: refused before any byte of it is written when it would pass the cap. */
  declare(bytes: number): void {
    this.#declared += bytes;
    if (this.#declared > this.cap) throw this.#tooLarge(`declares at least ${formatBytes(this.#declared)} of files to extract`);
  }

  /** Bytes actually written: an archive that writes more than it declared is stopped at the cap too. */
  written(bytes: number): void {
    this.#written += bytes;
    if (this.#written > this.cap) throw this.#tooLarge(`wrote ${formatBytes(this.#written)}, more than its files declare`);
  }

  #tooLarge(what: string): IngestError {
    return new IngestError(
      IngestErrorCode.TooLarge,
      `${this.#archiveName} ${what}, over the ${formatBytes(this.cap)} cap of source.max_extracted_size; nothing was installed — raise max_extracted_size in images.yaml if the image really is that big, or check the source`,
    );
  }
}
