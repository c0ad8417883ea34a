// Issue 14 item 7: a source URL with user:password@ or ?token= appeared in full in /api/images, /api/events, the
// event stream and the dashboard, and an image's .manifest.json (which records the URL) was served to anyone over
// HTTP and TFTP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { readImageStatuses } from '../../src/ingest/image-status.ts';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { createIngestJobs } from '../../src/events/ingest-jobs.ts';
import { createBootMetrics, fanOut } from '../../src/events/metrics.ts';
import { createEventStore } from '../../src/events/store.ts';
import { findBootFile } from '../../src/boot/policy.ts';
import { openForReading } from '../../src/files/boot-files.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import type { ImageManifest } from '../../src/ingest/manifest.ts';
import type { IpxeBinaries } from '../../src/ipxe/binaries.ts';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { TftpErrorReply, tftpGet } from '../support/tftp-test-client.ts';

const PASSWORD = 'hunter2pw';
const TOKEN = 'tok3nvalue';
const SOURCE = `https://alice:${PASSWORD}@mirror.example/debian.iso?token=${TOKEN}`;

const dataDir = await mkdtemp(join(tmpdir(), 'bootstation-secrets-'));
const imageDir = join(dataDir, 'images', 'secret');
const ipxeDir = join(dataDir, 'ipxe');
const image: ImageConfig = {
  id: 'secret', label: 'Secret', dir: imageDir, kernel: 'linux', initrds: ['initrd.gz'], args: '',
  ingest: { from: { kind: 'url', url: SOURCE, fetch: 'all' }, insecure: true, extract: [] },
};
const config: BootstationConfig = {
  server: { httpPort: 8080, proxyDhcp: true },
  menu: { title: 'Secrets', timeoutSeconds: 5 },
  ipxe: { keymap: 'us' },
  images: [image],
  hosts: new Map(),
};
const ipxe: IpxeBinaries = { dir: ipxeDir, kind: 'custom', files: new Map() };
const manifest: ImageManifest = {
  format: 1,
  id: 'secret',
  fingerprint: { source: SOURCE, fetch: 'all', checksum: null, localFile: null, extract: [], renames: {}, keepArchiveAs: null },
  checksumSource: 'none',
  archiveVerified: false,
  unverifiedReason: `insecure: true, nothing checked ${SOURCE}`,
  archive: { name: 'debian.iso', type: 'iso9660', size: 1 },
  files: [{ path: 'linux', size: 7, sha256: '0'.repeat(64) }],
  ingestedAt: '2026-01-01T00:00:00.000Z',
};

const store = createEventStore({ now: Date.now });
const metrics = createBootMetrics({ tftpActive: () => 0 });
const events = fanOut(store, metrics);
const ingest = createIngestJobs({
  images: () => config.images,
  events,
  now: Date.now,
  run: async () => {
    throw new Error(`the server refused ${SOURCE} (HTTP 403); check source.url in images.yaml and that the file is public`);
  },
});
const app = buildHttpApp({
  config: () => config,
  serverUrl: () => 'http://127.0.0.1:8080',
  ipxe: () => ipxe,
  log: pino({ level: 'silent' }),
  events,
  dashboard: { store, metrics, ingest, images: () => readImageStatuses(config, dataDir), ipxe: () => ipxe, adminToken: () => 'admin', title: () => 'Secrets' },
});
let tftp: TftpService;
let port = 0;

before(async () => {
  await mkdir(imageDir, { recursive: true });
  await mkdir(ipxeDir);
  await writeFile(join(imageDir, 'linux'), 'kernel\n');
  await writeFile(join(imageDir, 'initrd.gz'), 'initrd\n');
  await writeFile(join(imageDir, '.manifest.json'), JSON.stringify(manifest));
  await writeFile(join(dataDir, 'images', '.secret.failed.json'), JSON.stringify({ at: '2026-02-01T00:00:00.000Z', code: 'HTTP_STATUS', message: `the server refused ${SOURCE} (HTTP 403)` }));
  // The failed ingest reaches the history, the event stream and /api/events.
  assert.deepEqual(ingest.start('secret'), { started: true });
  await ingest.idle();
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  tftp = await createTftpService({
    address: '127.0.0.1',
    port: 0,
    log: pino({ level: 'silent' }),
    // As bootstation serve wires it.
    files: async (path) => {
      const found = await findBootFile(path, ipxe, config);
      return found.ok ? openForReading(found.path) : undefined;
    },
  });
});
after(async () => {
  await tftp.close();
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
});

function assertNoSecret(text: string, where: string): void {
  assert.ok(!text.includes(PASSWORD), `${where} shows the password: ${text.slice(Math.max(0, text.indexOf(PASSWORD) - 80), text.indexOf(PASSWORD) + 20)}`);
  assert.ok(!text.includes(TOKEN), `${where} shows the token`);
}

describe('credentials in source URLs are never shown', () => {
  test('/api/images names the failure and the verification with the URL redacted', async () => {
    const response = await app.inject({ url: '/api/images' });
    assert.equal(response.statusCode, 200);
    assertNoSecret(response.body, '/api/images');
    assert.match(response.body, /mirror\.example\/debian\.iso/, 'the rest of the URL is still there to act on');
  });

  test('/api/events and the dashboard page', async () => {
    const events = await app.inject({ url: '/api/events?since=0' });
    assert.match(events.body, /"phase":"failed"/);
    assertNoSecret(events.body, '/api/events');
    const page = await app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assertNoSecret(page.body, 'the dashboard');
  });

  test('the event stream replays the failure without the credentials', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port, path: '/api/events/stream?since=0' }, (response) => {
        let received = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          received += chunk;
          if (received.includes('"phase":"failed"')) {
            request.destroy();
            resolve(received);
          }
        });
      });
      request.on('error', reject);
    });
    assertNoSecret(text, 'the event stream');
  });
});

describe('dotfiles are served neither over HTTP nor over TFTP', () => {
  test('GET /images/secret/.manifest.json (and encoded, and the failure record) → 404', async () => {
    for (const path of ['/images/secret/.manifest.json', '/images/secret/%2emanifest.json', '/images/secret/.MANIFEST.JSON']) {
      const response = await app.inject({ url: path });
      assert.equal(response.statusCode, 404, path);
      assertNoSecret(response.body, path);
    }
    assert.equal((await app.inject({ url: '/images/secret/linux' })).statusCode, 200, 'the image itself is still served');
  });

  test('a TFTP RRQ for images/secret/.manifest.json is refused with an error, not the file', async () => {
    for (const file of ['images/secret/.manifest.json', 'IMAGES/SECRET/.MANIFEST.JSON']) {
      await assert.rejects(tftpGet({ port: tftp.port, file }), (error: unknown) => error instanceof TftpErrorReply, file);
    }
    const kernel = await tftpGet({ port: tftp.port, file: 'images/secret/linux' });
    assert.equal(kernel.data.toString(), 'kernel\n', 'the image itself is still served');
  });
});
