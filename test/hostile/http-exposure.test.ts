// Issue 14 item 11: HTTP listened on 0.0.0.0 whatever the configured interface, so with network_mode: host the
// dashboard, API and metrics were on every interface of the NAS; and no response carried a Content-Security-Policy,
// frame-ancestors or nosniff.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { createBootMetrics } from '../../src/events/metrics.ts';
import { createEventStore } from '../../src/events/store.ts';
import { httpListenAddresses } from '../../src/http/listen.ts';
import { SECURITY_HEADERS } from '../../src/http/security-headers.ts';
import { freeTcpPort, freeUdpPort, startCli, waitFor } from '../support/cli.ts';
import { startHostileServer, type HostileServer } from './http-hostile-server.ts';

/** Whether a TCP connection to address:port is accepted. */
function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('where bootstation serve listens for HTTP', () => {
  const servers: Array<ReturnType<typeof startCli>> = [];
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bootstation-exposure-'));
    await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
    await writeFile(join(dir, 'data', 'ipxe', 'undionly.kpxe'), 'bios');
    await writeFile(join(dir, 'images.yaml'), 'menu:\n  title: Exposure\n');
  });
  after(async () => {
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts serve on 127.0.0.1 (the serving address) with extra arguments and returns its HTTP port. */
  async function serve(extra: string[]): Promise<number> {
    const http = await freeTcpPort();
    const server = startCli([
      'serve', '--config', join(dir, 'images.yaml'), '--data', join(dir, 'data'), '--address', '127.0.0.1', '--no-proxy-dhcp',
      '--http-port', String(http), '--tftp-port', String(await freeUdpPort()), ...extra,
    ]);
    servers.push(server);
    await waitFor('bootstation to serve', async () => server.output().includes('bootstation serving'));
    return http;
  }

  test('by default only on the serving address and loopback: another address of the host is refused', async () => {
    const port = await serve([]);
    assert.equal(await accepts('127.0.0.1', port), true, 'the serving address');
    // 127.0.0.2 is another address of this host (all of 127.0.0.0/8 is), like a NAS's second interface.
    assert.equal(await accepts('127.0.0.2', port), false, 'another interface of the host must not reach the dashboard');
  });

  test('--http-listen adds addresses, and all listens everywhere', async () => {
    const port = await serve(['--http-listen', '127.0.0.3']);
    assert.equal(await accepts('127.0.0.3', port), true, 'the added address');
    assert.equal(await accepts('127.0.0.1', port), true, 'loopback stays, for the container health check');
    assert.equal(await accepts('127.0.0.2', port), false);
    const everywhere = await serve(['--http-listen', 'all']);
    assert.equal(await accepts('127.0.0.2', everywhere), true);
  });

  test('the address list: serving address and loopback first, duplicates once, all alone', () => {
    assert.deepEqual(httpListenAddresses(undefined, '10.77.0.2'), ['10.77.0.2', '127.0.0.1']);
    assert.deepEqual(httpListenAddresses(['10.0.0.9', '127.0.0.1'], '10.77.0.2'), ['10.77.0.2', '127.0.0.1', '10.0.0.9']);
    assert.deepEqual(httpListenAddresses(undefined, '127.0.0.1'), ['127.0.0.1']);
    assert.deepEqual(httpListenAddresses('all', '10.77.0.2'), ['0.0.0.0']);
    assert.deepEqual(httpListenAddresses(['0.0.0.0'], '10.77.0.2'), ['0.0.0.0']);
  });
});

describe('security headers on every response', () => {
  let server: HostileServer;
  before(async () => {
    const store = createEventStore({ now: Date.now });
    const metrics = createBootMetrics({ tftpActive: () => 0 });
    server = await startHostileServer({
      dashboard: { store, metrics, images: async (): Promise<ImageStatus[]> => [], ipxe: () => ({ dir: '/nowhere', kind: 'stock', files: new Map() }), adminToken: () => undefined, title: () => 'x' },
    });
  });
  after(() => server.close());

  const paths = [
    '/', '/dashboard.js', '/dashboard.css', '/api/images', '/api/events', '/metrics', '/healthz', '/boot.ipxe', '/menu.ipxe',
    '/images/debian/linux', '/ipxe/undionly.kpxe', '/images/debian/missing', '/no/such/route', '/images/%zz', '/api/events/stream',
  ];
  for (const path of paths) {
    test(`GET ${path}`, async () => {
      const headers = await headersOf(server.port, path);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(headers[name], value, `${name} on ${path}`);
    });
  }

  test('the policy allows the dashboard only its own script, style and API, and no framing', () => {
    const policy = SECURITY_HEADERS['content-security-policy']!;
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      assert.ok(policy.split('; ').includes(directive), directive);
    }
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|\*/);
  });
});

/** The response headers of a GET over a real socket (file bodies and the event stream are written past Fastify). */
function headersOf(port: number, path: string): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      resolve(response.headers);
      request.destroy();
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
  });
}
