import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failureError, isTransient } from '../../src/ingest/download-failure.ts';
import { IngestErrorCode } from '../../src/ingest/ingest-error.ts';

describe('download failures', () => {
  test('only resets, timeouts, cut bodies, 5xx and 429 are retried', () => {
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'ERR_HTTP_CONTENT_LENGTH_MISMATCH']) assert.equal(isTransient({ url: 'u', code }), true, code);
    for (const status of [500, 502, 503, 429]) assert.equal(isTransient({ url: 'u', status }), true, String(status));
    for (const code of ['ENOTFOUND', 'CERT_HAS_EXPIRED', 'ECONNREFUSED']) assert.equal(isTransient({ url: 'u', code }), false, code);
    for (const status of [404, 403, 401]) assert.equal(isTransient({ url: 'u', status }), false, String(status));
  });

  test('DNS and TLS failures are one sentence naming the URL and the fix', () => {
    const dns = failureError({ url: 'https://mirror.invalid/x.iso', code: 'ENOTFOUND' }, 1);
    assert.equal(dns.code, IngestErrorCode.Dns);
    assert.equal(dns.message, "the host name mirror.invalid of https://mirror.invalid/x.iso does not resolve (ENOTFOUND); check the URL's spelling and this machine's DNS settings");
    const tls = failureError({ url: 'https://self.example/x.iso', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 1);
    assert.equal(tls.code, IngestErrorCode.Tls);
    assert.match(tls.message, /^the TLS certificate of self\.example is not trusted for https:\/\/self\.example\/x\.iso \(DEPTH_ZERO_SELF_SIGNED_CERT\); fix the system clock/);
  });
});
