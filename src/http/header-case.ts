// Response header names on the wire in their usual spelling (Content-Length, not content-length): GRUB 2.06's
// HTTP client matches "Content-Length:" byte for byte and fails with "out of memory" without it (issue 16).
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

// Names whose usual spelling is not one capital per dash-separated word (RFC 9110 §8.8.3 spells "ETag").
const SPECIAL_SPELLINGS: Readonly<Record<string, string>> = { etag: 'ETag', 'www-authenticate': 'WWW-Authenticate' };

/** A header name in its usual spelling: "content-length" → "Content-Length", "etag" → "ETag". */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return SPECIAL_SPELLINGS[lower] ?? lower.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
}

/**
 * Node writes header names as they were given, and Fastify hands writeHead and setHeader the lower-case names it
 * stores; this response respells every name on its way in, so whatever path a response takes (Fastify's send, a
 * hijacked file body, the event stream, Node's implicit headers) its names go out in their usual spelling.
 */
export class CanonicalHeaderResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    return super.setHeader(canonicalHeaderName(name), value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    return super.appendHeader(canonicalHeaderName(name), value);
  }

  override writeHead(statusCode: number, ...rest: [(string | OutgoingHttpHeaders | OutgoingHttpHeader[])?, (OutgoingHttpHeaders | OutgoingHttpHeader[])?]): this {
    const last = rest.length - 1;
    if (last >= 0 && typeof rest[last] === 'object' && rest[last] !== null) rest[last] = canonicalHeaders(rest[last]);
    return (super.writeHead as (statusCode: number, ...args: unknown[]) => this)(statusCode, ...rest);
  }
}

function canonicalHeaders(headers: OutgoingHttpHeaders | OutgoingHttpHeader[]): OutgoingHttpHeaders | OutgoingHttpHeader[] {
  // A flat [name, value, name, value, …] list, as Node also accepts.
  if (Array.isArray(headers)) return headers.map((item, index) => (index % 2 === 0 && typeof item === 'string' ? canonicalHeaderName(item) : item));
  const respelled: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) respelled[canonicalHeaderName(name)] = value;
  return respelled;
}
