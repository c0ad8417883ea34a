import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../src/http/app.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import type { IpxeBinaries } from '../../src/ipxe/binaries.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// ── files on disk ──────────────────────────────────────────────────────────────────────────────
const root = await mkdtemp(join(tmpdir(), 'bootstation-http-'));
const debianDir = join(root, 'debian');
const brokenDir = join(root, 'broken');
const outsideDir = join(root, 'outside');
const ipxeDir = join(root, 'ipxe');
const stockDir = join(root, 'stock'); // stands in for /boot, where Debian's stock binaries really are

const KERNEL = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(30)); // 1080 bytes
const INITRD = Buffer.from('initrd contents\n');
const MTIME = new Date('2024-05-01T12:34:56.000Z');
const BIG_SIZE = 64 * 1024 * 1024;

/** 64 MiB in which every 4-byte word is its own offset / 4 (big-endian), so any slice can be checked. */
function bigPattern(): Buffer {
  const buffer = Buffer.allocUnsafe(BIG_SIZE);
  for (let word = 0; word < BIG_SIZE / 4; word++) buffer.writeUInt32BE(word, word * 4);
  return buffer;
}

let bigSha256 = '';

before(async () => {
  await mkdir(join(debianDir, 'sub'), { recursive: true });
  await mkdir(join(debianDir, 'Install'), { recursive: true });
  await mkdir(brokenDir);
  await mkdir(join(outsideDir, 'dir'), { recursive: true });
  await mkdir(ipxeDir);
  await mkdir(stockDir);
  await writeFile(join(debianDir, 'linux'), KERNEL);
  await writeFile(join(debianDir, 'initrd.gz'), INITRD);
  await writeFile(join(debianDir, 'empty'), '');
  await writeFile(join(debianDir, 'sub', 'file.txt'), 'in a sub-folder\n');
  await writeFile(join(debianDir, 'Install', 'vmlinuz'), 'case-sensitive\n');
  await utimes(join(debianDir, 'linux'), MTIME, MTIME);
  const big = bigPattern();
  bigSha256 = createHash('sha256').update(big).digest('hex');
  await writeFile(join(debianDir, 'big.img'), big);
  await writeFile(join(root, 'secret'), 'SECRET next to the image folder\n');
  await writeFile(join(outsideDir, 'dir', 'file'), 'SECRET in a folder outside\n');
  await symlink('/etc/passwd', join(debianDir, 'passwd'));
  await symlink(join(outsideDir, 'dir'), join(debianDir, 'outside-dir'));
  await symlink(join(debianDir, 'sub', 'file.txt'), join(debianDir, 'inside-link'));
  await symlink('sub', join(debianDir, 'inside-dir'));
  // broken: kernel present, initrd missing
  await writeFile(join(brokenDir, 'vmlinuz'), 'k');
  // iPXE: a first-stage binary that is a symlink out of the folder (like /usr/lib/ipxe → /boot), one plain file
  await writeFile(join(stockDir, 'ipxe.efi'), 'EFI BINARY');
  await symlink(join(stockDir, 'ipxe.efi'), join(ipxeDir, 'ipxe.efi'));
  await writeFile(join(ipxeDir, 'undionly.kpxe'), 'BIOS BINARY');
  await writeFile(join(ipxeDir, 'local.ipxe'), '#!ipxe\nchain boot.ipxe\n');
  // On disk, yet never served, as over TFTP: iPXE 2.0 EFI runs the autoexec.ipxe next to where it was loaded from.
  await writeFile(join(ipxeDir, 'autoexec.ipxe'), '#!ipxe\nshell\n');
  await symlink(join(root, 'secret'), join(ipxeDir, 'leak'));
});

after(() => rm(root, { recursive: true, force: true }));

// ── the app ───────────────────────────────────────────────────────────────────────────────────
const debian: ImageConfig = { id: 'debian', label: 'Debian 12 installer', dir: debianDir, kernel: 'linux', initrds: ['initrd.gz'], args: 'priority=low' };
const broken: ImageConfig = { id: 'broken', label: 'Broken image', dir: brokenDir, kernel: 'vmlinuz', initrds: ['initrd.img'], args: '' };
let config: BootstationConfig = {
  server: { httpPort: 8080, proxyDhcp: true },
  menu: { title: 'Test menu', defaultImage: 'debian', timeoutSeconds: 5 },
  ipxe: { keymap: 'us' },
  images: [debian, broken],
  hosts: new Map(),
};
const ipxe: IpxeBinaries = {
  dir: ipxeDir,
  kind: 'custom',
  files: new Map([
    ['ipxe.efi', join(ipxeDir, 'ipxe.efi')],
    ['undionly.kpxe', join(ipxeDir, 'undionly.kpxe')],
  ]),
};

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}
const logLines: LogLine[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as LogLine);
    done();
  },
});
const WARN = 40;

const app: FastifyInstance = buildHttpApp({
  config: () => config,
  serverUrl: () => 'http://10.77.0.2:8080',
  ipxe: () => ipxe,
  log: pino({ level: 'info' }, logStream),
});
after(() => app.close());

/** Runs fn and returns the log lines written meanwhile (pino writes synchronously to our stream). */
async function logsOf<T>(fn: () => Promise<T>): Promise<{ result: T; logs: LogLine[] }> {
  const start = logLines.length;
  const result = await fn();
  await new Promise((resolve) => setImmediate(resolve));
  return { result, logs: logLines.slice(start) };
}

// ── a real socket, for raw paths (inject normalises "..", "%2e%2e" and "\" like a browser would) ──
let port = 0;
before(async () => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a request with the path exactly as given (no normalisation) and collects the response. */
function rawRequest(path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

// ── tests ─────────────────────────────────────────────────────────────────────────────────────
describe('GET and HEAD of image files', () => {
  test('GET answers the whole file with its length, validators and a binary type', async () => {
    const response = await app.inject({ method: 'GET', url: '/images/debian/linux' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.rawPayload, KERNEL);
    assert.equal(response.headers['content-length'], String(KERNEL.length));
    assert.equal(response.headers['content-type'], 'application/octet-stream');
    assert.equal(response.headers['accept-ranges'], 'bytes');
    assert.equal(response.headers['last-modified'], 'Wed, 01 May 2024 12:34:56 GMT');
    assert.equal(response.headers['etag'], `"${KERNEL.length.toString(16)}-${MTIME.getTime().toString(16)}"`);
  });

  test('files in sub-folders, percent-encoded names, and query strings', async () => {
    for (const url of ['/images/debian/sub/file.txt', '/images/debian/sub/fil%65.txt', '/images/debian/sub/file.txt?mac=52:54:00:12:34:56']) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.body, 'in a sub-folder\n', url);
    }
  });

  test('names are case-sensitive over HTTP', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/images/debian/Install/vmlinuz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/images/debian/install/VMLINUZ' })).statusCode, 404);
  });

  test('HEAD answers the same headers, with the Content-Length, and no body', async () => {
    const get = await app.inject({ method: 'GET', url: '/images/debian/linux' });
    const head = await app.inject({ method: 'HEAD', url: '/images/debian/linux' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.rawPayload.length, 0, 'HEAD sent a body');
    for (const name of ['content-length', 'content-type', 'etag', 'last-modified', 'accept-ranges']) {
      assert.equal(head.headers[name], get.headers[name], `HEAD header ${name}`);
    }
    assert.equal(head.headers['content-length'], String(KERNEL.length));
    // over a socket too: the client must not wait for a body
    const raw = await rawRequest('/images/debian/big.img', { method: 'HEAD' });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-length'], String(BIG_SIZE));
    assert.equal(raw.body.length, 0);
  });

  test('HEAD with a Range answers 206 headers without a body', async () => {
    const head = await app.inject({ method: 'HEAD', url: '/images/debian/linux', headers: { range: 'bytes=10-19' } });
    assert.equal(head.statusCode, 206);
    assert.equal(head.headers['content-length'], '10');
    assert.equal(head.headers['content-range'], `bytes 10-19/${KERNEL.length}`);
    assert.equal(head.rawPayload.length, 0);
  });

  test('an empty file', async () => {
    const response = await app.inject({ method: 'GET', url: '/images/debian/empty' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-length'], '0');
    assert.equal(response.rawPayload.length, 0);
  });

  test('a missing file, a folder and an unknown image id → 404', async () => {
    for (const url of ['/images/debian/nope', '/images/debian/sub', '/images/debian/sub/', '/images/nope/linux', '/images/broken/initrd.img']) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 404, url);
      assert.ok(!response.body.includes('SECRET'));
    }
    assert.equal((await app.inject({ method: 'GET', url: '/images/nope/linux' })).body, 'no such image\n');
  });

  test('POST is not a file method', async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/images/debian/linux' })).statusCode, 404);
  });

  test('the config getter is read on every request, so a reload applies at once', async () => {
    const before = config;
    try {
      config = { ...config, images: [broken] };
      assert.equal((await app.inject({ method: 'GET', url: '/images/debian/linux' })).statusCode, 404, 'a removed image is still served');
    } finally {
      config = before;
    }
    assert.equal((await app.inject({ method: 'GET', url: '/images/debian/linux' })).statusCode, 200);
  });
});

describe('Range and conditional requests', () => {
  test('Range a-b, a- and -n answer 206 with exactly those bytes', async () => {
    for (const [range, start, end] of [
      ['bytes=0-9', 0, 9],
      ['bytes=100-', 100, KERNEL.length - 1],
      ['bytes=-36', KERNEL.length - 36, KERNEL.length - 1],
      ['bytes=1000-5000', 1000, KERNEL.length - 1],
    ] as const) {
      const response = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range } });
      assert.equal(response.statusCode, 206, range);
      assert.deepEqual(response.rawPayload, KERNEL.subarray(start, end + 1), `bytes of ${range}`);
      assert.equal(response.headers['content-length'], String(end - start + 1), range);
      assert.equal(response.headers['content-range'], `bytes ${start}-${end}/${KERNEL.length}`, range);
    }
  });

  test('an unsatisfiable range answers 416 with bytes */size and no body', async () => {
    const response = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range: `bytes=${KERNEL.length}-` } });
    assert.equal(response.statusCode, 416);
    assert.equal(response.headers['content-range'], `bytes */${KERNEL.length}`);
    assert.equal(response.rawPayload.length, 0);
  });

  test('several ranges or a garbage Range answer the whole file', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=oops', 'bytes=9-3']) {
      const response = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range } });
      assert.equal(response.statusCode, 200, range);
      assert.deepEqual(response.rawPayload, KERNEL, range);
    }
  });

  test('If-None-Match with the ETag and If-Modified-Since answer 304 without a body', async () => {
    const first = await app.inject({ method: 'GET', url: '/images/debian/linux' });
    const etag = first.headers['etag'] as string;
    for (const headers of [{ 'if-none-match': etag }, { 'if-modified-since': first.headers['last-modified'] as string }]) {
      const response = await app.inject({ method: 'GET', url: '/images/debian/linux', headers });
      assert.equal(response.statusCode, 304, JSON.stringify(headers));
      assert.equal(response.rawPayload.length, 0);
      assert.equal(response.headers['etag'], etag);
    }
    const changed = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { 'if-none-match': '"something-else"' } });
    assert.equal(changed.statusCode, 200);
  });

  test('If-Range: the current ETag → 206, an old one → the whole file', async () => {
    const etag = (await app.inject({ method: 'HEAD', url: '/images/debian/linux' })).headers['etag'] as string;
    const match = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range: 'bytes=0-3', 'if-range': etag } });
    assert.equal(match.statusCode, 206);
    assert.equal(match.body, '0123');
    const stale = await app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range: 'bytes=0-3', 'if-range': '"old"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.rawPayload.length, KERNEL.length);
  });
});

describe('a 64 MiB file over a real socket', () => {
  test('arrives whole with the right SHA-256, streamed (the server never holds the whole file in the socket)', async () => {
    let serverSocket: Socket | undefined;
    const onConnection = (socket: Socket): void => {
      serverSocket = socket;
    };
    app.server.on('connection', onConnection);
    try {
      const hash = createHash('sha256');
      let received = 0;
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = http.get({ host: '127.0.0.1', port, path: '/images/debian/big.img', agent: false }, resolve);
        request.on('error', reject);
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-length'], String(BIG_SIZE));
      // Read one chunk, then stop reading. A server that streams stops at the socket buffers; one
      // that read the file into memory would have queued all 64 MiB on its socket at once.
      const first = await new Promise<Buffer>((resolve) => response.once('data', resolve));
      response.pause();
      hash.update(first);
      received += first.length;
      let written = -1;
      for (let settled = 0; settled < 3; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const now = serverSocket?.bytesWritten ?? 0;
        settled = now === written ? settled + 1 : 0;
        written = now;
      }
      assert.ok(serverSocket, 'saw the server side of the connection');
      assert.ok(written < BIG_SIZE / 2, `the server queued ${written} of ${BIG_SIZE} bytes for a client that stopped reading`);
      for await (const chunk of response) {
        hash.update(chunk as Buffer);
        received += (chunk as Buffer).length;
      }
      assert.equal(received, BIG_SIZE);
      assert.equal(hash.digest('hex'), bigSha256, 'SHA-256 of the streamed file');
    } finally {
      app.server.off('connection', onConnection);
    }
  });

  test('a range deep in the big file holds exactly those bytes', async () => {
    const start = 48 * 1024 * 1024 + 4; // word 12582913
    const response = await rawRequest('/images/debian/big.img', { headers: { range: `bytes=${start}-${start + 15}` } });
    assert.equal(response.status, 206);
    assert.equal(response.headers['content-range'], `bytes ${start}-${start + 15}/${BIG_SIZE}`);
    assert.deepEqual([0, 4, 8, 12].map((offset) => response.body.readUInt32BE(offset)), [start / 4, start / 4 + 1, start / 4 + 2, start / 4 + 3]);
  });
});

describe('paths that try to leave the folder', () => {
  // Raw request paths, sent byte for byte over the socket.
  const attempts: [string, string][] = [
    ['/images/debian/../secret', 'dot-segment'],
    ['/images/debian/sub/../../secret', 'dot-segment'],
    ['/images/debian/%2e%2e/secret', 'dot-segment'],
    ['/images/debian/%2E%2E/secret', 'dot-segment'],
    ['/images/debian/.%2e/secret', 'dot-segment'],
    ['/images/debian/%2E%2E%2Fsecret', 'separator-in-segment'],
    ['/images/debian/..%2fsecret', 'separator-in-segment'],
    ['/images/debian/..%2F..%2Fsecret', 'separator-in-segment'],
    ['/images/debian/..%5csecret', 'separator-in-segment'],
    ['/images/debian/..%5C..%5Csecret', 'separator-in-segment'],
    ['/images/debian/..\\secret', 'separator-in-segment'],
    ['/images/debian/linux%00', 'nul-byte'],
    ['/images/debian/linux%00.txt', 'nul-byte'],
    ['/images/debian//etc/passwd', 'empty-segment'],
    ['/images/debian///etc/passwd', 'empty-segment'],
    ['/images/debian/sub//file.txt', 'empty-segment'],
    ['/images/debian/./linux', 'dot-segment'],
    ['/images/debian/passwd', 'outside-root'],
    ['/images/debian/outside-dir/file', 'outside-root'],
    ['/images/debian/outside-dir', 'outside-root'],
    ['/ipxe/../secret', 'dot-segment'],
    ['/ipxe/%2e%2e/secret', 'dot-segment'],
    ['/ipxe/..%2fsecret', 'separator-in-segment'],
    ['/ipxe//etc/passwd', 'empty-segment'],
    ['/ipxe/leak', 'outside-root'],
    [`/images/debian/${'a/'.repeat(600)}x`, 'too-long'],
  ];
  for (const [path, reason] of attempts) {
    test(`${path.length > 80 ? `${path.slice(0, 60)}… (${path.length} chars)` : path} → 404, warning ${reason}`, async () => {
      const { result: response, logs } = await logsOf(() => rawRequest(path));
      assert.equal(response.status, 404, `status for ${path}`);
      assert.ok(!response.body.toString().includes('SECRET') && !response.body.toString().includes('root:'), 'leaked a file');
      const warnings = logs.filter((line) => line.level === WARN);
      assert.equal(warnings.length, 1, `one warning for ${path}, got ${JSON.stringify(logs)}`);
      assert.equal(warnings[0]!.msg, 'refused file request');
      assert.equal(warnings[0]!['reason'], reason);
      assert.equal(typeof warnings[0]!['path'], 'string', 'the requested path is logged under its own key');
      assert.ok((warnings[0]!['path'] as string).length <= 256, 'the logged path is length-limited');
    });
  }

  test('symlinks that stay inside the folder are followed', async () => {
    assert.equal((await rawRequest('/images/debian/inside-link')).body.toString(), 'in a sub-folder\n');
    assert.equal((await rawRequest('/images/debian/inside-dir/file.txt')).body.toString(), 'in a sub-folder\n');
  });

  test('an image id that is not one (.., encoded) → 404 without serving anything', async () => {
    for (const path of ['/images/../secret', '/images/%2e%2e/secret', '/images/..%2f/secret', '//etc/passwd', '/images/debian%2f..%2f/secret']) {
      const response = await rawRequest(path);
      assert.equal(response.status, 404, path);
      assert.ok(!response.body.toString().includes('SECRET'), `leaked a file for ${path}`);
    }
  });

  test('a malformed percent-encoding is refused without serving anything', async () => {
    const response = await rawRequest('/images/debian/%zz');
    // Fastify's router rejects it (400 FST_ERR_BAD_URL) before our handler sees it.
    assert.ok(response.status === 400 || response.status === 404, `status ${response.status}`);
  });

  // Known gap (reported): ".." where the image id goes never reaches the path checker; the route
  // answers "no such image" (404, safe) but logs no warning, which the issue asks for.
  test('".." in the image-id position is logged as a refused request', async () => {
    for (const path of ['/images/../secret', '/images/%2e%2e/secret']) {
      const { result: response, logs } = await logsOf(() => rawRequest(path));
      assert.equal(response.status, 404, path);
      assert.equal(logs.filter((line) => line.level === WARN).length, 1, `a warning for ${path}, got ${JSON.stringify(logs)}`);
    }
  });

  // Known gap (reported): Fastify answers a malformed %-escape itself (400, JSON body) before any
  // hook runs, so the request leaves no log line at all and safe-path's 'bad-encoding' is unreachable.
  test('a malformed percent-encoding is answered 404 with a warning and its request log line', async () => {
    const { result: response, logs } = await logsOf(() => rawRequest('/images/debian/%zz'));
    assert.equal(response.status, 404);
    assert.equal(logs.filter((line) => line.level === WARN).length, 1, `a warning, got ${JSON.stringify(logs)}`);
    assert.equal(logs.filter((line) => line.msg === 'http request').length, 1, `a request line, got ${JSON.stringify(logs)}`);
  });
});

describe('iPXE binaries, health and scripts', () => {
  test('/ipxe/<name> serves a first-stage binary by exact name, also through a symlink out of the folder', async () => {
    const efi = await app.inject({ method: 'GET', url: '/ipxe/ipxe.efi' });
    assert.equal(efi.statusCode, 200);
    assert.equal(efi.body, 'EFI BINARY');
    assert.equal(efi.headers['content-length'], '10');
    assert.equal(efi.headers['content-type'], 'application/efi');
    const bios = await app.inject({ method: 'GET', url: '/ipxe/undionly.kpxe', headers: { range: 'bytes=0-3' } });
    assert.equal(bios.statusCode, 206);
    assert.equal(bios.body, 'BIOS');
    assert.equal((await app.inject({ method: 'HEAD', url: '/ipxe/ipxe.efi' })).rawPayload.length, 0);
  });

  test('/ipxe/<file> serves other files of the iPXE folder, scripts as text/plain', async () => {
    const script = await app.inject({ method: 'GET', url: '/ipxe/local.ipxe' });
    assert.equal(script.statusCode, 200);
    assert.equal(script.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(script.body, '#!ipxe\nchain boot.ipxe\n');
    assert.equal((await app.inject({ method: 'GET', url: '/ipxe/snp-arm64.efi' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/ipxe/autoexec.ipxe' })).statusCode, 404, 'autoexec.ipxe is never served');
  });

  test('/healthz', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  test('/boot.ipxe is an uncached text/plain iPXE script', async () => {
    const response = await app.inject({ method: 'GET', url: '/boot.ipxe' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(response.body, /^#!ipxe\n/);
    assert.match(response.body, /^chain --autofree http:\/\/10\.77\.0\.2:8080\/boot\.ipxe\?mac=\$\{net0\/mac\}/m);
  });

  test('/boot.ipxe with a mac chains the menu with the client\'s identity; junk parameters are dropped', async () => {
    const response = await app.inject({ method: 'GET', url: '/boot.ipxe?mac=52-54-00-AA-BB-CC&platform=efi&buildarch=x86_64' });
    assert.match(response.body, /^chain --autofree http:\/\/10\.77\.0\.2:8080\/menu\.ipxe\?mac=52%3A54%3A00%3Aaa%3Abb%3Acc&platform=efi&buildarch=x86_64 \|\| shell$/m);
    const junk = await app.inject({ method: 'GET', url: '/boot.ipxe?mac=52:54:00:aa:bb:cc&platform=efi%0Ashell&buildarch=' });
    assert.match(junk.body, /^chain --autofree http:\/\/10\.77\.0\.2:8080\/menu\.ipxe\?mac=52%3A54%3A00%3Aaa%3Abb%3Acc \|\| shell$/m);
  });

  test('/menu.ipxe is text/plain and marks an image whose files are missing as not ready', async () => {
    const response = await app.inject({ method: 'GET', url: '/menu.ipxe?platform=efi' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(response.body, /^item bs-image-debian Debian 12 installer$/m);
    assert.match(response.body, /^item --gap -- Broken image \(not ready: missing initrd\.img\)$/m);
    assert.ok(!response.body.includes(':bs-image-broken'), 'an incomplete image has a boot section');
    assert.match(response.body, /^set base-url http:\/\/10\.77\.0\.2:8080\/images\/debian\/$/m);
  });
});

// ── header bytes as they go out: GRUB 2.06 matches "Content-Length:" byte for byte ─────────────────
/** One HTTP/1.1 exchange on a raw TCP socket: the requests as written, the response bytes exactly as sent. */
function rawExchange(requests: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(requests));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** A request as OVMF's HTTP Boot writes it; the last one of a connection says Connection: close. */
function ovmfRequest(method: string, path: string, extra = '', close = true): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: UefiHttpBoot/1.0\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n`;
}

/** The header lines of every response head in raw bytes (status lines left out). */
function headerLines(raw: string): string[] {
  const heads = raw.split('\r\n\r\n').filter((part) => /^HTTP\/1\.1 \d{3} /.test(part));
  return heads.flatMap((head) => head.split('\r\n').slice(1));
}

describe('header names on the wire', () => {
  test('HEAD then GET of an EFI binary on one connection, as OVMF HTTP Boot does: Content-Length and Content-Type: application/efi', async () => {
    const raw = await rawExchange(ovmfRequest('HEAD', '/ipxe/ipxe.efi', '', false) + ovmfRequest('GET', '/ipxe/ipxe.efi'));
    const responses = raw.split(/(?=HTTP\/1\.1 \d{3} )/);
    assert.equal(responses.length, 2, `two responses, got ${JSON.stringify(raw)}`);
    for (const response of responses) {
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(response, /\r\nContent-Length: 10\r\n/, `exact spelling "Content-Length: " in ${JSON.stringify(response)}`);
      assert.match(response, /\r\nContent-Type: application\/efi\r\n/, `exact "Content-Type: application/efi" in ${JSON.stringify(response)}`);
      assert.match(response, /\r\nETag: "/);
      assert.match(response, /\r\nLast-Modified: /);
      assert.match(response, /\r\nAccept-Ranges: bytes\r\n/);
    }
    assert.ok(responses[0]!.endsWith('\r\n\r\n'), 'HEAD answered without a body');
    assert.ok(responses[1]!.endsWith('\r\n\r\nEFI BINARY'), 'GET answered the file');
  });

  test('every status a file answers (200, 206, 304, 416, 404), scripts, health: no header name starts in lower case', async () => {
    const etag = /\r\nETag: ("[^"]+")\r\n/.exec(await rawExchange(ovmfRequest('HEAD', '/images/debian/linux')))?.[1];
    assert.ok(etag, 'the ETag of the kernel');
    const exchanges: Array<[string, RegExp]> = [
      [ovmfRequest('GET', '/images/debian/linux'), /^HTTP\/1\.1 200 /],
      [ovmfRequest('GET', '/images/debian/linux', 'Range: bytes=0-9\r\n'), /^HTTP\/1\.1 206 [^]*\r\nContent-Range: bytes 0-9\/1080\r\n/],
      [ovmfRequest('GET', '/images/debian/linux', `If-None-Match: ${etag}\r\n`), /^HTTP\/1\.1 304 /],
      [ovmfRequest('GET', '/images/debian/linux', 'Range: bytes=5000-\r\n'), /^HTTP\/1\.1 416 /],
      [ovmfRequest('HEAD', '/images/debian/big.img'), /^HTTP\/1\.1 200 [^]*\r\nContent-Length: 67108864\r\n/],
      [ovmfRequest('GET', '/images/debian/nope'), /^HTTP\/1\.1 404 [^]*\r\nContent-Type: text\/plain/],
      [ovmfRequest('GET', '/images/debian/%zz'), /^HTTP\/1\.1 404 /],
      [ovmfRequest('GET', '/boot.ipxe'), /^HTTP\/1\.1 200 [^]*\r\nCache-Control: no-store\r\n/],
      [ovmfRequest('GET', '/healthz'), /^HTTP\/1\.1 200 [^]*\r\nContent-Type: application\/json/],
    ];
    for (const [request, expected] of exchanges) {
      const raw = await rawExchange(request);
      const line = request.slice(0, request.indexOf('\r\n'));
      assert.match(raw, expected, `${line}: ${JSON.stringify(raw.slice(0, 600))}`);
      const lines = headerLines(raw);
      assert.ok(lines.some((header) => header.startsWith('X-Content-Type-Options: ')), `${line}: the security headers too`);
      for (const header of lines) assert.match(header, /^([A-Z][a-z]*|ETag)(-[A-Z][a-z]*)*: /, `${line}: header line ${JSON.stringify(header)}`);
    }
  });

  test('curl (a client nobody here wrote) prints the header lines as they arrived', async (context) => {
    const curl = await promisify(execFile)('curl', ['-sS', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${port}/ipxe/ipxe.efi`]).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!curl) return context.skip(skipOrFail('http-header-names-curl', 'curl is not installed (Debian package curl)'));
    assert.match(curl.stdout, /\r\nContent-Length: 10\r\n/);
    assert.match(curl.stdout, /\r\nContent-Type: application\/efi\r\n/);
  });
});

describe('request log', () => {
  test('one line per request with method, url, status and bytes', async () => {
    const { logs } = await logsOf(() => app.inject({ method: 'GET', url: '/images/debian/linux', headers: { range: 'bytes=0-99', 'user-agent': `UefiHttpBoot/1.0${'x'.repeat(500)}` } }));
    assert.equal(logs.length, 1, `exactly one log line, got ${JSON.stringify(logs)}`);
    const line = logs[0]!;
    assert.equal(line.msg, 'http request');
    assert.equal(line['method'], 'GET');
    assert.equal(line['url'], '/images/debian/linux');
    assert.equal(line['status'], 206);
    assert.equal(line['bytes'], 100);
    assert.equal(line['range'], 'bytes=0-99');
    assert.equal(line['userAgent'], `UefiHttpBoot/1.0${'x'.repeat(112)}`, 'the user agent, cut to 128 characters');
    assert.equal(typeof line['ms'], 'number');
  });

  test('a 404 and a script are logged the same way', async () => {
    const { logs } = await logsOf(async () => {
      await app.inject({ method: 'GET', url: '/images/debian/nope' });
      await app.inject({ method: 'GET', url: '/menu.ipxe' });
    });
    const requests = logs.filter((line) => line.msg === 'http request');
    assert.deepEqual(requests.map((line) => [line['method'], line['url'], line['status']]), [
      ['GET', '/images/debian/nope', 404],
      ['GET', '/menu.ipxe', 200],
    ]);
    assert.ok((requests[1]!['bytes'] as number) > 0, 'the menu\'s size is logged');
    assert.ok(!logs.some((line) => line.level >= WARN), 'a plain missing file is not a warning');
  });
});
