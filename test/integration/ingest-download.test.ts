import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import got from 'got';
import { downloadToCache, type DownloadOptions } from '../../src/ingest/download.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import { openHttpRangeSource } from '../../src/ingest/http-range-source.ts';
import { createProgressReporter } from '../../src/ingest/progress-reporter.ts';
import { hasCommand, runIn } from '../support/ingest-archives.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-download-'));
after(() => rm(root, { recursive: true, force: true }));
const BODY = randomBytes(3 * 1024 * 1024 + 17);
const SHA256 = createHash('sha256').update(BODY).digest('hex');
let cacheCount = 0;

function options(url: string, extra: Partial<DownloadOptions> = {}): DownloadOptions & { logs: string[] } {
  const logs: string[] = [];
  return {
    http: got,
    url,
    cacheDir: join(root, `cache-${++cacheCount}`),
    fileName: 'image.iso',
    expected: { algorithm: 'sha256', value: SHA256 },
    sleep: async () => {},
    timeouts: { connect: 2000, response: 2000, idle: 2000 },
    log: (line) => logs.push(line),
    logs,
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<IngestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof IngestError, `expected an IngestError, got ${String(error)}`);
    return error;
  }
  assert.fail('the download must fail');
}

describe('downloads', () => {
  test('a connection cut mid-body is resumed with Range and the result is verified', async () => {
    const server = await startHttpFixture((request, response, previous) => sendBody(request, response, BODY, { ranges: true, ...(previous === 0 ? { cutAfter: 1024 * 1024 } : {}) }));
    try {
      const opts = options(server.url('/image.iso'));
      const result = await downloadToCache(opts);
      assert.equal(result.sha256, SHA256);
      assert.deepEqual(await readFile(result.path), BODY);
      assert.equal(server.requests.length, 2, 'one cut request and one resumed request');
      assert.equal(server.requests[0]?.range, undefined);
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(server.requests[1]?.range ?? '')?.[1]);
      assert.ok(resumedAt > 0 && resumedAt <= 1024 * 1024, `the second request must continue after the received bytes, got ${server.requests[1]?.range}`);
      assert.deepEqual((await readdir(opts.cacheDir)).sort(), ['image.iso', 'image.iso.json'], 'no .part left behind');
    } finally {
      await server.close();
    }
  });

  test('a .part left by an earlier run is continued, not downloaded again', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY, { ranges: true }));
    try {
      const opts = options(server.url('/image.iso'));
      await downloadToCache({ ...opts, fileName: 'warmup' }).catch(() => undefined);
      await writeFile(join(opts.cacheDir, 'image.iso.part'), BODY.subarray(0, 1000));
      server.requests.length = 0;
      const result = await downloadToCache(opts);
      assert.equal(result.sha256, SHA256);
      assert.deepEqual(server.requests.map((r) => r.range), ['bytes=1000-']);
    } finally {
      await server.close();
    }
  });

  test('a server without Range support: the download starts again from byte 0 and still completes', async () => {
    const server = await startHttpFixture((request, response, previous) => sendBody(request, response, BODY, previous === 0 ? { cutAfter: 512 * 1024 } : {}));
    try {
      const opts = options(server.url('/image.iso'));
      const result = await downloadToCache(opts);
      assert.deepEqual(await readFile(result.path), BODY);
      assert.equal(server.requests.length, 2);
      assert.match(server.requests[1]?.range ?? '', /^bytes=\d+-$/, 'it asked to resume');
      assert.ok(opts.logs.some((line) => /did not continue at byte \d+; downloading it again from the start/.test(line)), opts.logs.join('\n'));
    } finally {
      await server.close();
    }
  });

  test('a checksum mismatch deletes the download and says expected and actual', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY, { ranges: true }));
    try {
      const wrong = 'f'.repeat(64);
      const opts = options(server.url('/image.iso'), { expected: { algorithm: 'sha256', value: wrong } });
      const error = await rejection(downloadToCache(opts));
      assert.equal(error.code, IngestErrorCode.ChecksumMismatch);
      assert.ok(error.message.includes(SHA256) && error.message.includes(wrong), error.message);
      assert.deepEqual(await readdir(opts.cacheDir), [], 'neither the .part nor a cached copy may remain');
    } finally {
      await server.close();
    }
  });

  test('a download larger than the free space stops before any byte is written', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY));
    try {
      const opts = options(server.url('/image.iso'), { freeBytes: async () => 1024 * 1024 });
      const error = await rejection(downloadToCache(opts));
      assert.equal(error.code, IngestErrorCode.NoSpace);
      assert.equal(error.message, `disk full: ${opts.cacheDir} has 1.00 MiB free, ${server.url('/image.iso')} needs about 3.00 MiB; free some space or use a --data directory on a larger disk`);
      assert.deepEqual(await readdir(opts.cacheDir), [], 'not even an empty .part');
    } finally {
      await server.close();
    }
  });

  test('md5 and sha512 are checked too', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY));
    try {
      for (const algorithm of ['md5', 'sha512'] as const) {
        const value = createHash(algorithm).update(BODY).digest('hex');
        const result = await downloadToCache(options(server.url('/image.iso'), { expected: { algorithm, value } }));
        assert.deepEqual(result.digest, { algorithm, value });
      }
    } finally {
      await server.close();
    }
  });

  test('404 is one sentence naming the URL and the fix, without retries', async () => {
    const server = await startHttpFixture((_request, response) => response.writeHead(404).end('not here'));
    try {
      const url = server.url('/missing.iso');
      const error = await rejection(downloadToCache(options(url)));
      assert.equal(error.code, IngestErrorCode.NotFound);
      assert.equal(error.message, `${url} does not exist on the server (HTTP 404); check source.url in images.yaml against the distribution's download page`);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  test('403 is not retried; 503 and 429 are, then the download succeeds', async () => {
    const forbidden = await startHttpFixture((_request, response) => response.writeHead(403).end());
    try {
      const error = await rejection(downloadToCache(options(forbidden.url('/x.iso'))));
      assert.equal(error.code, IngestErrorCode.HttpStatus);
      assert.equal(forbidden.requests.length, 1);
    } finally {
      await forbidden.close();
    }
    const flaky = await startHttpFixture((request, response, previous) => {
      if (previous === 0) response.writeHead(503).end();
      else if (previous === 1) response.writeHead(429, { 'retry-after': '0' }).end();
      else sendBody(request, response, BODY);
    });
    try {
      const waits: number[] = [];
      const result = await downloadToCache(options(flaky.url('/x.iso'), { sleep: async (ms) => void waits.push(ms) }));
      assert.equal(result.sha256, SHA256);
      assert.deepEqual(waits, [1000, 0], 'exponential backoff, and Retry-After when the server gives one');
    } finally {
      await flaky.close();
    }
  });

  test('a connection that is refused fails at once with one sentence', async () => {
    const server = await startHttpFixture(() => undefined);
    const url = server.url('/x.iso');
    await server.close();
    const error = await rejection(downloadToCache(options(url)));
    assert.equal(error.code, IngestErrorCode.Connection);
    assert.match(error.message, /^nothing answers at 127\.0\.0\.1:\d+ for http:\/\/127\.0\.0\.1:\d+\/x\.iso \(ECONNREFUSED\); check the URL/);
  });

  test('an untrusted TLS certificate is one sentence, without retries', async (t) => {
    const skip = skipOrFail('ingest-download-tls', (await hasCommand('openssl')) ? undefined : 'the openssl command is absent (Debian package: openssl)');
    if (skip) return t.skip(skip);
    await runIn(root, 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1']);
    let requests = 0;
    const server = createHttpsServer({ key: await readFile(join(root, 'key.pem')), cert: await readFile(join(root, 'cert.pem')) }, (_request, response) => {
      requests++;
      response.end('never');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x.iso`;
      const error = await rejection(downloadToCache(options(url)));
      assert.equal(error.code, IngestErrorCode.Tls);
      assert.equal(error.message, `the TLS certificate of 127.0.0.1:${(server.address() as AddressInfo).port} is not trusted for ${url} (DEPTH_ZERO_SELF_SIGNED_CERT); fix the system clock or CA certificates, add the server's CA with NODE_EXTRA_CA_CERTS, or use a mirror with a valid certificate`);
      assert.equal(requests, 0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('cuts after real progress do not use up the retries', async () => {
    const big = Buffer.concat([BODY, BODY, BODY, BODY, BODY, BODY, BODY, BODY, BODY, BODY, BODY]);
    const digest = createHash('sha256').update(big).digest('hex');
    // Every answer is cut 9 MiB after where it starts: four cuts in a row with one retry allowed.
    const server = await startHttpFixture((request, response) => sendBody(request, response, big, { ranges: true, cutAfter: 9 * 1024 * 1024 }));
    try {
      const result = await downloadToCache(options(server.url('/big.iso'), { expected: { algorithm: 'sha256', value: digest }, retries: 1 }));
      assert.equal(result.sha256, digest);
      assert.ok(server.requests.length >= 4, `${server.requests.length} requests`);
    } finally {
      await server.close();
    }
  });

  test('a server that stalls mid-body hits the idle timeout, is retried, then gives up with a sentence', { timeout: 20_000 }, async () => {
    // Sends 1000 bytes of whatever was asked for, then nothing.
    const server = await startHttpFixture((request, response) => {
      const first = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1] ?? 0);
      const range = first > 0 ? { 'content-range': `bytes ${first}-${BODY.length - 1}/${BODY.length}` } : {};
      response.writeHead(first > 0 ? 206 : 200, { 'content-length': String(BODY.length - first), ...range });
      response.write(BODY.subarray(first, first + 1000));
    });
    try {
      const opts = options(server.url('/slow.iso'), { timeouts: { connect: 1000, response: 1000, idle: 300 }, retries: 2 });
      const error = await rejection(downloadToCache(opts));
      assert.equal(error.code, IngestErrorCode.RetriesExhausted);
      assert.match(error.message, /failed 3 times in a row \(ETIMEDOUT\); run ingest again later, it resumes the partial download$/);
      assert.equal(server.requests.length, 3);
      assert.deepEqual(server.requests.slice(1).map((r) => r.range), ['bytes=1000-', 'bytes=2000-'], 'each retry resumes after the bytes on disk');
    } finally {
      await server.close();
    }
  });

  test('a slow but steady server completes, with progress lines every interval of the clock', { timeout: 20_000 }, async () => {
    const chunks = 8;
    const piece = Math.ceil(BODY.length / chunks);
    const server = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-length': String(BODY.length) });
      let sent = 0;
      const next = (): void => {
        if (sent >= chunks) return void response.end();
        response.write(BODY.subarray(sent * piece, (sent + 1) * piece));
        sent++;
        setTimeout(next, 30);
      };
      next();
    });
    try {
      let clock = 0;
      const lines: string[] = [];
      // Every reading of the fake clock is one second later: the 5 s log interval passes every fifth chunk.
      const now = (): number => (clock += 1000);
      const progress = createProgressReporter({ label: 'img', tty: false, write: (text) => lines.push(text), now });
      const result = await downloadToCache(options(server.url('/steady.iso'), { progress, now, timeouts: { connect: 1000, response: 1000, idle: 1000 } }));
      assert.equal(result.sha256, SHA256);
      assert.ok(lines.length >= 1, 'at least one progress line');
      for (const line of lines) assert.match(line, /^img: [\d.]+ [KMG]?i?B of 3\.00 MiB \(\d+%\), [\d.]+ [KMG]?i?B\/s(, \S+ left)?\n$/);
    } finally {
      await server.close();
    }
  });

  test('redirects are followed', async () => {
    const server = await startHttpFixture((request, response) => {
      if (request.url === '/old.iso') return void response.writeHead(302, { location: '/new.iso' }).end();
      sendBody(request, response, BODY);
    });
    try {
      assert.equal((await downloadToCache(options(server.url('/old.iso')))).sha256, SHA256);
      assert.deepEqual(server.requests.map((r) => r.path), ['/old.iso', '/new.iso']);
    } finally {
      await server.close();
    }
  });

  test('a completed, verified download is reused without any request', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY));
    try {
      const opts = options(server.url('/image.iso'));
      assert.equal((await downloadToCache(opts)).reused, false);
      assert.equal((await downloadToCache(opts)).reused, true);
      assert.equal(server.requests.length, 1);
      const other = await downloadToCache({ ...opts, expected: { algorithm: 'sha256', value: '0'.repeat(64) } }).catch((e: unknown) => e);
      assert.ok(other instanceof IngestError && other.code === IngestErrorCode.ChecksumMismatch, 'a different expected digest does not reuse the copy');
    } finally {
      await server.close();
    }
  });
});

describe('HTTP Range source (fetch: files)', () => {
  test('small reads come from 64 KiB windows, large ones pass through; no Range support is undefined', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY, { ranges: !request.url?.startsWith('/plain') }));
    try {
      const source = await openHttpRangeSource(got, server.url('/image.iso'));
      assert.ok(source);
      assert.equal(source.size, BODY.length);
      assert.deepEqual(Buffer.from(await source.read(100, 10)), BODY.subarray(100, 110));
      assert.deepEqual(Buffer.from(await source.read(65530, 12)), BODY.subarray(65530, 65542), 'a read across two windows');
      const before = server.requests.length;
      assert.deepEqual(Buffer.from(await source.read(200, 50)), BODY.subarray(200, 250));
      assert.equal(server.requests.length, before, 'a second small read in a cached window makes no request');
      assert.deepEqual(Buffer.from(await source.read(1_000_000, 2_000_000)), BODY.subarray(1_000_000, 3_000_000));
      assert.deepEqual(Buffer.from(await source.read(BODY.length - 5, 100)), BODY.subarray(BODY.length - 5), 'reads stop at the end');
      assert.equal(await openHttpRangeSource(got, server.url('/plain/image.iso')), undefined);
    } finally {
      await server.close();
    }
  });

  test('a server that stops honouring Range after the probe is a clear error', async () => {
    const server = await startHttpFixture((request, response) => sendBody(request, response, BODY, { ranges: request.headers.range === 'bytes=0-0' }));
    try {
      const source = await openHttpRangeSource(got, server.url('/image.iso'));
      const error = await rejection(source!.read(100, 10));
      assert.equal(error.code, IngestErrorCode.HttpStatus);
      assert.equal(error.message, `${server.url('/image.iso')} answered a Range request for byte 0 with HTTP 200 and other bytes; set fetch: all on this source to download it whole`);
    } finally {
      await server.close();
    }
  });
});

describe('progress on a terminal', () => {
  test('one line redrawn in place, finished with a newline', () => {
    let clock = 0;
    let out = '';
    const sink = createProgressReporter({ label: 'x', tty: true, write: (t) => (out += t), now: () => clock });
    sink.update({ received: 0, total: 100, resumedFrom: 0, elapsedMs: 0 });
    clock = 100;
    sink.update({ received: 10, total: 100, resumedFrom: 0, elapsedMs: 100 });
    clock = 300;
    sink.update({ received: 50, total: 100, resumedFrom: 0, elapsedMs: 300 });
    sink.done();
    assert.equal(out, '\rx: 50 B of 100 B (50%), 167 B/s, 0s left\x1b[K\rx: 50 B of 100 B (50%), 167 B/s, 0s left\x1b[K\n');
  });
});
