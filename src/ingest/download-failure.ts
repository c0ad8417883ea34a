// Which download failures are worth retrying, and the sentence a user sees for the others. Pure.
import { redactUrl } from '../config/redact-url.ts';
import { IngestError, IngestErrorCode } from './ingest-error.ts';

/** What went wrong with one request: a network error code, an HTTP status, or both unknown. */
export interface FailureFacts {
  url: string;
  /** Node/got error code (ECONNRESET, ENOTFOUND, CERT_HAS_EXPIRED, …). */
  code?: string;
  status?: number;
  statusMessage?: string;
}

// Resets, timeouts and cut bodies go away by themselves; the rest needs a person.
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP_CONTENT_LENGTH_MISMATCH', 'INGEST_TRUNCATED']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Whether a failure is transient: connection resets, timeouts, a cut body, 5xx or 429. */
export function isTransient(facts: FailureFacts): boolean {
  if (facts.status !== undefined) return facts.status === 429 || facts.status >= 500;
  return facts.code !== undefined && TRANSIENT_CODES.has(facts.code);
}

/** The IngestError a user sees for a failure that is not retried (or no longer). */
export function failureError(facts: FailureFacts, attempts: number): IngestError {
  const { code, status } = facts;
  // The URL may carry credentials (user:password@, ?token=): the sentence shows it without them.
  const url = redactUrl(facts.url);
  const host = hostOf(url);
  if (isTransient(facts)) {
    const what = status !== undefined ? `HTTP ${status}` : code;
    return new IngestError(
      IngestErrorCode.RetriesExhausted,
      `downloading ${url} failed ${attempts} times in a row (${what}); run ingest again later, it resumes the partial download`,
    );
  }
  if (status === 404 || status === 410) {
    return new IngestError(IngestErrorCode.NotFound, `${url} does not exist on the server (HTTP ${status}); check source.url in images.yaml against the distribution's download page`);
  }
  if (status !== undefined) {
    const text = facts.statusMessage ? ` ${facts.statusMessage}` : '';
    return new IngestError(IngestErrorCode.HttpStatus, `the server refused ${url} (HTTP ${status}${text}); check source.url in images.yaml and that the file is public`);
  }
  if (code !== undefined && DNS_CODES.has(code)) {
    return new IngestError(IngestErrorCode.Dns, `the host name ${host} of ${url} does not resolve (${code}); check the URL's spelling and this machine's DNS settings`);
  }
  if (code !== undefined && isTlsCode(code)) {
    return new IngestError(
      IngestErrorCode.Tls,
      `the TLS certificate of ${host} is not trusted for ${url} (${code}); fix the system clock or CA certificates, add the server's CA with NODE_EXTRA_CA_CERTS, or use a mirror with a valid certificate`,
    );
  }
  if (code !== undefined && CONNECTION_CODES.has(code)) {
    return new IngestError(IngestErrorCode.Connection, `nothing answers at ${host} for ${url} (${code}); check the URL and this machine's network connection`);
  }
  return new IngestError(IngestErrorCode.Connection, `downloading ${url} failed (${code ?? 'unknown error'}); check the URL and this machine's network connection`);
}

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('CERT_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.includes('SELF_SIGNED') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'EPROTO'
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
