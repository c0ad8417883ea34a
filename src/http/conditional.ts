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

/** Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against a size; other forms and lists are ignored. */
export function parseSingleRange(header: string, size: number): { start: number; end: number } | 'ignore' | 'unsatisfiable' {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return 'ignore';
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (end < start) return 'ignore';
  return { start, end };
}
