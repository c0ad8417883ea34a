// The dashboard's API through Fastify's inject(), and its event stream on a real socket.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { createIngestJobs, type RunIngest } from '../../src/events/ingest-jobs.ts';
import { createBootMetrics, fanOut } from '../../src/events/metrics.ts';
import { createEventStore } from '../../src/events/store.ts';
import type { BootEvent } from '../../src/events/model.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import type { ImageManifest } from '../../src/ingest/manifest.ts';

const TOKEN = 'test-token-0123456789';
const root = await mkdtemp(join(tmpdir(), 'bootstation-dashboard-'));
const debianDir = join(root, 'debian');
const debian: ImageConfig = {
  id: 'debian', label: 'Debian', dir: debianDir, kernel: 'linux', initrds: ['initrd.gz'], args: '',
  ingest: { from: { kind: 'path', path: '/isos/debian.iso' }, insecure: false, extract: [] },
};
const local: ImageConfig = { id: 'local', label: 'Local', dir: debianDir, kernel: 'linux', initrds: [], args: '' };
let adminToken: string | undefined;
const config = (): BootstationConfig => ({
  server: { httpPort: 8080, proxyDhcp: true },
  menu: { title: 'Test lab', timeoutSeconds: 5 },
  ipxe: { keymap: 'us' },
  images: [debian, local],
  hosts: new Map(),
});

const store = createEventStore({ now: Date.now });
const metrics = createBootMetrics({ tftpActive: () => 0 });
const events = fanOut(store, metrics);
// The ingest pipeline is replaced by a step the test releases, so "one at a time" can be observed.
let release: () => void = () => {};
const ingested: string[] = [];
const run: RunIngest = async (image, progress) => {
  ingested.push(image.id);
  progress.update({ received: 5, total: 10, resumedFrom: 0, elapsedMs: 1 });
  await new Promise<void>((resolve) => (release = resolve));
  return { status: 'installed', manifest: {} as ImageManifest };
};
const ingest = createIngestJobs({ images: () => config().images, run, events, now: Date.now });
const statuses: ImageStatus[] = [
  { id: 'debian', label: 'Debian', source: 'path', state: 'not ingested', version: null, size: null, lastIngest: null, verification: null, missingFiles: ['linux'], failure: null, versions: [], diskUsed: null, pinned: null },
];
const app = buildHttpApp({
  config,
  serverUrl: () => 'http://127.0.0.1:8080',
  ipxe: () => ({ dir: '/usr/lib/ipxe', kind: 'stock', files: new Map() }),
  log: pino({ level: 'silent' }),
  events,
  activeTransfers: metrics.httpActive,
  dashboard: {
    store, metrics, ingest,
    images: async () => statuses,
    ipxe: () => ({ dir: '/usr/lib/ipxe', kind: 'stock', files: new Map() }),
    adminToken: () => adminToken,
    title: () => config().menu.title,
    heartbeatMs: 50,
    maxStreams: 2,
  },
});

before(async () => {
  await mkdir(debianDir, { recursive: true });
  await writeFile(join(debianDir, 'linux'), Buffer.alloc(4096, 1));
  await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app.close();
  await rm(root, { recursive: true, force: true });
});

describe('JSON API', () => {
  it('GET /api/events returns events after `since`, and refuses a since that is not an id', async () => {
    events.emit({ kind: 'dhcp-offer', mac: '52:54:00:00:00:01', firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67, ip: '10.0.0.1' });
    const last = store.lastId();
    events.emit({ kind: 'dhcp-offer', mac: '52:54:00:00:00:02', firmware: 'efi-x64-pxe', file: 'ipxe.efi', port: 4011, ip: '10.0.0.2' });
    const answer = await app.inject({ url: `/api/events?since=${last}` });
    assert.equal(answer.statusCode, 200);
    const body = answer.json() as { lastId: number; events: BootEvent[] };
    assert.deepEqual(body.events.map((event) => event.client), ['52:54:00:00:00:02']);
    assert.equal(body.lastId, last + 1);
    assert.equal((await app.inject({ url: '/api/events?since=../../etc' })).statusCode, 400);
  });

  it('GET /api/clients lists machines most recent first; GET /api/images the ingest states', async () => {
    const clients = (await app.inject({ url: '/api/clients' })).json() as { clients: Array<{ key: string }> };
    assert.equal(clients.clients[0]?.key, '52:54:00:00:00:02');
    const images = (await app.inject({ url: '/api/images' })).json() as { images: ImageStatus[]; ingestRunning: string | null };
    assert.deepEqual(images, { images: statuses, ingestRunning: null, ingestStates: {}, diskFree: null });
  });

  it('GET /api/ipxe says the stock binaries are served, what they lack and the fix', async () => {
    const ipxe = (await app.inject({ url: '/api/ipxe' })).json() as { kind: string; lacks: string[]; fix: string | null };
    assert.equal(ipxe.kind, 'stock');
    assert.deepEqual(ipxe.lacks, [
      'your keyboard layout (US keys only)',
      "bootstation's embedded script (machines reach boot.ipxe only through the ProxyDHCP's chain)",
      'ipxe32.efi (32-bit UEFI)',
      'snp-arm64.efi (arm64 UEFI)',
    ]);
    assert.match(ipxe.fix ?? '', /bootstation ipxe build/);
  });

  it('a fetch of an image kernel becomes a kernel event with its bytes, and offers and image bytes count in /metrics', async () => {
    const response = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/images/debian/linux`);
    assert.equal((await response.arrayBuffer()).byteLength, 4096);
    // The event is recorded when the response has closed, just after the body arrived.
    const event = await until(() => store.since(0).find((candidate) => candidate.kind === 'http-fetch'));
    assert.deepEqual({ role: event.kind === 'http-fetch' && event.role, bytes: event.kind === 'http-fetch' && event.bytes, image: event.kind === 'http-fetch' && event.image }, { role: 'kernel', bytes: 4096, image: 'debian' });
    const text = (await app.inject({ url: '/metrics' })).body;
    assert.match(text, /^bootstation_http_image_bytes_total\{image="debian"\} 4096$/m);
    assert.match(text, /^bootstation_dhcp_offers_total\{firmware="efi-x64-pxe"\} 1$/m);
  });
});

describe('POST /api/images/:id/ingest', () => {
  it('is off (404) without server.admin_token', async () => {
    adminToken = undefined;
    const answer = await app.inject({ method: 'POST', url: '/api/images/debian/ingest', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(answer.statusCode, 404);
    assert.match(answer.json<{ message: string }>().message, /server\.admin_token/);
    assert.deepEqual(ingested, []);
  });

  it('with a token: 401 without or with a wrong bearer, 202 with it, 409 while one runs; progress arrives as events', async () => {
    adminToken = TOKEN;
    const post = (authorization?: string, id = 'debian') => app.inject({ method: 'POST', url: `/api/images/${id}/ingest`, headers: authorization ? { authorization } : {} });
    assert.equal((await post()).statusCode, 401);
    assert.equal((await post(`Bearer ${TOKEN}x`)).statusCode, 401);
    assert.equal((await post(`Basic ${TOKEN}`)).statusCode, 401);
    assert.equal((await post(`Bearer ${TOKEN}`, 'nope')).statusCode, 404);
    assert.equal((await post(`Bearer ${TOKEN}`, 'local')).statusCode, 409, 'a dir source is not ingested');
    const from = store.lastId();
    assert.equal((await post(`Bearer ${TOKEN}`)).statusCode, 202);
    const busy = await post(`Bearer ${TOKEN}`);
    assert.equal(busy.statusCode, 409);
    assert.match(busy.json<{ message: string }>().message, /an ingest of debian is running/);
    release();
    await ingest.idle();
    const phases = store.since(from).filter((event) => event.kind === 'ingest').map((event) => event.kind === 'ingest' && event.phase);
    assert.deepEqual(phases, ['running', 'progress', 'installed']);
    assert.deepEqual(ingested, ['debian'], 'the pipeline ran once');
    assert.match((await app.inject({ url: '/metrics' })).body, /bootstation_ingest_duration_seconds_count\{outcome="installed"\} 1/);
  });
});

describe('GET /api/events/stream', () => {
  it('sends the backlog after Last-Event-ID, then live events and heartbeats, and frees its slot on disconnect', async () => {
    const before = store.lastId();
    store.record({ kind: 'dhcp-offer', mac: '52:54:00:00:00:03', firmware: 'bios-pxe', file: 'undionly.kpxe', port: 67 });
    const first = await openStream({ 'last-event-id': String(before) });
    assert.equal(first.response.headers['content-type'], 'text/event-stream; charset=utf-8');
    await until(() => first.text().includes('"mac":"52:54:00:00:00:03"') || undefined);
    store.record({ kind: 'tftp-transfer', ip: '10.0.0.1', file: 'undionly.kpxe', blockSize: 1468, windowSize: 4, bytes: 70_000, durationMs: 20, retransmissions: 0, outcome: 'completed' });
    const message = await until(() => first.messages().find((candidate) => candidate.event.kind === 'tftp-transfer'));
    assert.equal(message.event.client, '52:54:00:00:00:01', 'the TFTP event is filed under the MAC DHCP saw at 10.0.0.1');
    assert.equal(message.client?.step, 'tftp', 'the changed client row travels with the event');
    await until(() => first.text().includes(': heartbeat') || undefined);

    const second = await openStream({});
    const refused = await openStream({});
    assert.equal(refused.response.statusCode, 503, 'a third stream is over the limit of 2');
    refused.close();
    first.close();
    second.close();
    // Both slots come free once the server has seen the sockets close.
    await until(async () => {
      const again = await openStream({});
      again.close();
      return again.response.statusCode === 200 || undefined;
    });
  });
});

describe('header names on the wire', () => {
  /** The response head exactly as sent (up to the blank line) for a request written on a raw TCP socket. */
  function rawHead(port: number, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end >= 0) {
          socket.destroy();
          resolve(received.slice(0, end));
        }
      });
      socket.on('error', reject);
    });
  }

  function assertUsualSpelling(head: string, what: string): void {
    for (const line of head.split('\r\n').slice(1)) assert.match(line, /^([A-Z][a-z]*|ETag|WWW)(-[A-Z][a-z]*)*: /, `${what}: header line ${JSON.stringify(line)}`);
  }

  it('the page, its assets, the API, /metrics and the event stream spell every header name as usual', async () => {
    const port = (app.server.address() as { port: number }).port;
    const cases: Array<[string, RegExp]> = [
      ['/', /\r\nContent-Type: text\/html; charset=utf-8\r\n/],
      ['/dashboard.js', /\r\nContent-Type: text\/javascript; charset=utf-8\r\n/],
      ['/api/ipxe', /\r\nContent-Length: \d+\r\n/],
      ['/metrics', /\r\nContent-Type: text\/plain/],
      ['/api/events/stream', /\r\nContent-Type: text\/event-stream; charset=utf-8\r\n/],
    ];
    for (const [path, expected] of cases) {
      const head = await rawHead(port, path);
      assert.match(head, expected, `${path}: ${JSON.stringify(head)}`);
      assertUsualSpelling(head, path);
    }
  });

  it('a 401 names WWW-Authenticate, and a secondary listening address spells names the same way', async () => {
    adminToken = TOKEN;
    const secondary: Server = app.secondaryServer();
    try {
      await new Promise<void>((resolve) => secondary.listen(0, '127.0.0.1', resolve));
      const port = (secondary.address() as { port: number }).port;
      const unauthorized = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () => socket.write('POST /api/images/debian/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.on('end', () => resolve(received.slice(0, received.indexOf('\r\n\r\n'))));
        socket.on('error', reject);
      });
      assert.match(unauthorized, /^HTTP\/1\.1 401 [^]*\r\nWWW-Authenticate: Bearer\r\n/);
      assertUsualSpelling(unauthorized, 'POST without a token');
      const page = await rawHead(port, '/');
      assert.match(page, /\r\nContent-Security-Policy: default-src 'none'/);
      assertUsualSpelling(page, '/ on the secondary address');
    } finally {
      adminToken = undefined;
      secondary.close();
      secondary.closeAllConnections();
    }
  });
});

interface StreamMessage {
  event: BootEvent;
  client?: { step?: string };
}

async function openStream(headers: Record<string, string>): Promise<{ response: IncomingMessage; text: () => string; messages: () => StreamMessage[]; close: () => void }> {
  const port = (app.server.address() as { port: number }).port;
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/api/events/stream', headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('error', () => {});
      resolve({
        response,
        text: () => text,
        messages: () => text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as StreamMessage),
        close: () => request.destroy(),
      });
    });
    request.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    request.end();
  });
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
