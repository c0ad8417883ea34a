// Conditional and Range requests for static files: ETag, Last-Modified, 304, 206, 416. Pure.
import { parse as parseRange } from 'range-parser';

/** What to send for a GET or HEAD of a static file, decided from the request headers alone. */
export type FilePlan =
  | { status: 200; headers: Record<string, string>; start: number; end: number }
  | { status: 206; headers: Record<string, string>; start: number; end: number }
  | { status: 304; headers: Record<string, string> }
  | { status: 416; headers: Record<string, string> };

/** The facts about a file that validators are made from. */
export interface FileFacts {
  size: number;
  mtimeMs: number;
}

/** Request headers that matter for conditional and partial requests (lower-case names, as Node gives them). */
export interface FileRequestHeaders {
  range?: string;
  'if-range'?: string;
  'if-none-match'?: string;
  'if-modified-since'?: string;
}

/** A weak-enough, cheap validator: size and modification time, like nginx's. */
export function fileEtag(file: FileFacts): string {
  return `"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
}

/**
 * Plans the response per RFC 9110: 304 for a matching If-None-Match / If-Modified-Since, 206 for one
 * satisfiable byte range (multiple ranges are answered with the whole file, which §14.2 allows),
 * 416 for an unsatisfiable one, otherwise 200. If-Range that does not match means "send it all".
 */
export function planFileResponse(headers: FileRequestHeaders, file: FileFacts): FilePlan {
  const etag = fileEtag(file);
  const lastModified = new Date(Math.floor(file.mtimeMs / 1000) * 1000).toUTCString();
  const base = { etag, 'last-modified': lastModified, 'accept-ranges': 'bytes' };

  if (notModified(headers, etag, file.mtimeMs)) return { status: 304, headers: base };

  const full = { status: 200 as const, headers: { ...base, 'content-length': String(file.size) }, start: 0, end: file.size - 1 };
  if (headers.range === undefined) return full;
  if (headers['if-range'] !== undefined && !ifRangeMatches(headers['if-range'], etag, lastModified)) return full;

  const range = parseSingleRange(headers.range, file.size);
  if (range === 'ignore') return full;
  if (range === 'unsatisfiable') return { status: 416, headers: { ...base, 'content-range': `bytes */${file.size}` } };
  return {
    status: 206,
    headers: { ...base, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${file.size}` },
    start: range.start,
    end: range.end,
  };
}

function notModified(headers: FileRequestHeaders, etag: string, mtimeMs: number): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
  }
  const since = headers['if-modified-since'];
  if (since === undefined) return false;
  const sinceMs = Date.parse(since);
  return !Number.isNaN(sinceMs) && Math.floor(mtimeMs / 1000) * 1000 <= sinceMs;
}

function ifRangeMatches(ifRange: string, etag: string, lastModified: string): boolean {
  const value = ifRange.trim();
  return value.startsWith('"') || value.startsWith('W/') ? value === etag : value === lastModified;
}

/**
 * Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against a size; other forms and lists are ignored.
 * range-parser reads the header in one pass; a regular expression here with adjacent optional runs
 * backtracked in polynomial time on "bytes= - x"-style input and froze the one shared thread.
 */
export function parseSingleRange(header: string, size: number): { start: number; end: number } | 'ignore' | 'unsatisfiable' {
  const spec = withoutSpacesAroundDelimiters(header);
  // Several ranges are answered with the whole file (RFC 9110 §14.2 lets a server ignore Range).
  if (spec.includes(',')) return 'ignore';
  const parsed = parseRange(size, spec);
  if (parsed.type !== 'bytes' || (parsed.code & RANGE_MALFORMED) !== 0) return 'ignore';
  const [range] = parsed.ranges;
  // No satisfiable range: a first byte at or past the end, "-0", or any range of an empty file.
  if (range === undefined) return 'unsatisfiable';
  return { start: range.start, end: range.end };
}

// range-parser's result code: this bit marks a header that does not parse (the other, 2, an unsatisfiable range).
const RANGE_MALFORMED = 1;

// Clients have sent "Bytes = 10 - 19"; range-parser wants no blanks inside a range. Blanks are dropped next to
// "=", "-", "," and at either end, kept elsewhere ("1 0" stays malformed). Each run of blanks is scanned once.
function withoutSpacesAroundDelimiters(header: string): string {
  const isBlank = (index: number): boolean => header[index] === ' ' || header[index] === '\t';
  const isDelimiter = (char: string | undefined): boolean => char === undefined || char === '=' || char === '-' || char === ',';
  const kept: string[] = [];
  let last: string | undefined;
  for (let index = 0; index < header.length; ) {
    if (!isBlank(index)) {
      last = header[index];
      kept.push(last!);
      index += 1;
      continue;
    }
    let runEnd = index;
    while (isBlank(runEnd)) runEnd += 1;
    if (!isDelimiter(last) && !isDelimiter(header[runEnd])) kept.push(header.slice(index, runEnd));
    index = runEnd;
  }
  return kept.join('');
}
