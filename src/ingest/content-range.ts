// Content-Range answers to a resumed download (RFC 9110 §14.4). Pure.

/** A parsed `Content-Range: bytes first-last/complete` (complete undefined for `*`). */
export interface ContentRange {
  first: number;
  last: number;
  complete: number | undefined;
}

/** Parses a byte Content-Range header; undefined for anything else (including the unsatisfied form of a 416). */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = Number(match[2]);
  const complete = match[3] === '*' ? undefined : Number(match[3]);
  if (last < first || (complete !== undefined && last >= complete)) return undefined;
  return { first, last, complete };
}

/** The complete length N of the "bytes star-slash-N" header a 416 carries. */
export function parseUnsatisfiedRange(header: string | undefined): number | undefined {
  const match = /^bytes \*\/(\d+)$/i.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Whether an answer to `Range: bytes=offset-` really continues the partial file: a 206 whose range
 * starts at offset. Anything else (a 200 from a server that ignores Range, a range elsewhere) means
 * starting again from byte 0.
 */
export function continuesAt(status: number, contentRange: string | undefined, offset: number): boolean {
  if (status !== 206) return false;
  return parseContentRange(contentRange)?.first === offset;
}
