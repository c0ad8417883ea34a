// Closing the HTTP app with clients still connected, on real sockets: idle keep-alive connections (iPXE keeps its
// connection open between fetches) must not hold close() up, a download in flight gets a grace period to finish
// and is cut after it, and `bootstation serve` exits promptly on SIGTERM with such clients connected.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import type { HttpLimits } from '../../src/http/limits.ts';
import { listenHttp } from '../../src/http/listen.ts';
import { findIpxeBinaries } from '../../src/ipxe/binaries.ts';
import { freeTcpPort, startCli, waitFor } from '../support/cli.ts';
import { captureLog } from '../support/log-capture.ts';

const root = await mkdtemp(join(tmpdir(), 'bootstation-http-shutdown-'));
const imageDir = join(root, 'debian');
const ipxeDir = join(root, 'ipxe');
// Bigger than what loopback's socket buffers take in (a few MiB), so a client that does not read leaves it in flight.
const BIG_SIZE = 64 * 1024 * 1024;
// What close() may take when every connection is idle: Node closes those at once.
const IDLE_CLOSE_BOUND_MS = 2000;
// Both listening addresses of the app: a secondary server (listen.ts) must drain like the first.
const ADDRESSES = ['127.0.0.1', '127.0.0.2'];

before(async () => {
  await mkdir(imageDir);
  await mkdir(ipxeDir);
  await writeFile(join(imageDir, 'linux'), 'KERNEL');
  await writeFile(join(imageDir, 'big.img'), Buffer.alloc(BIG_SIZE, 0x5a));
  await writeFile(join(ipxeDir, 'ipxe.efi'), 'EFI BINARY');
});
after(() => rm(root, { recursive: true, force: true }));

const debian: ImageConfig = { id: 'debian', label: 'Debian', dir: imageDir, kernel: 'linux', initrds: [], args: '' };
const config = { images: [debian], menu: { title: 'Boot menu', timeoutSeconds: 5 } } as unknown as BootstationConfig;

/** An app as `bootstation serve` builds it, listening on both ADDRESSES: its base URLs, its port and its log lines. */
async function startApp(limits: Partial<HttpLimits> = {}) {
  const ipxe = await findIpxeBinaries(ipxeDir, join(root, 'no-stock'));
  const { log, lines } = captureLog('info');
  const app = buildHttpApp({ config: () => config, serverUrl: () => 'http://127.0.0.1', ipxe: () => ipxe, log, limits });
  const port = await listenHttp(app, ADDRESSES, 0);
  return { app, urls: ADDRESSES.map((address) => `http://${address}:${port}`), port, lines };
}

/** Resolves to how long `promise` took to settle from now, or rejects when it takes longer than `boundMs`. */
async function within(promise: Promise<unknown>, boundMs: number, what: string): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not resolve within ${boundMs} ms`)), boundMs);
  });
  try {
    await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

/**
 * A raw GET of `path` that stops reading once the response head is in (resume the socket to read on); `done`
 * resolves with the body bytes received when the connection closes.
 */
function openDownload(port: number, path: string, host = '127.0.0.1'): { socket: Socket; headers: Promise<string>; done: Promise<{ bytes: number }> } {
  const socket = connect(port, host);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  let start = Buffer.alloc(0);
  let bytes = -1; // body bytes, once the head is in
  let headArrived: (head: string) => void = () => {};
  const headers = new Promise<string>((resolve) => (headArrived = resolve));
  socket.on('data', (chunk: Buffer) => {
    if (bytes >= 0) {
      bytes += chunk.length;
      return;
    }
    start = Buffer.concat([start, chunk]);
    const end = start.indexOf('\r\n\r\n');
    if (end < 0) return;
    bytes = start.length - end - 4;
    socket.pause();
    headArrived(start.subarray(0, end).toString('latin1'));
  });
  socket.on('error', () => {});
  const done = new Promise<{ bytes: number }>((resolve) => socket.on('close', () => resolve({ bytes: Math.max(0, bytes) })));
  return { socket, headers, done };
}

function contentLength(head: string): number {
  return Number(/^content-length: (\d+)$/im.exec(head)?.[1]);
}

describe('closing the app with keep-alive clients', () => {
  test('close() resolves within 2 s while clients that just fetched an image file or an iPXE binary (GET and HEAD) keep their connections open, on both addresses', async () => {
    // The file route once ended its response only after the file closed: a client that had its bytes could leave the
    // connection open past close(), which then waited for the 72 s keep-alive timeout. It is a race: try it often.
    for (let round = 0; round < 12; round++) {
      const { app, urls } = await startApp();
      const agent = new http.Agent({ keepAlive: true });
      const path = round % 2 === 0 ? '/images/debian/linux' : '/ipxe/ipxe.efi';
      const url = urls[round % urls.length];
      try {
        const head = await fetch(`${url}${path}`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), '');
        await (await fetch(`${url}/menu.ipxe`)).text();
        // Node's own client, which keeps its socket in the agent's pool, and then undici's (fetch): the file is the
        // last thing each fetched before close().
        const body = await new Promise<string>((resolve, reject) => {
          http.get(`${url}${path}`, { agent }, (res) => {
            let text = '';
            res.setEncoding('latin1').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text));
          }).on('error', reject);
        });
        const fetched = await (await fetch(`${url}${path}`)).text();
        assert.equal(fetched, body);
        assert.match(body, /^(KERNEL|EFI BINARY)$/);
        assert.equal(Object.values(agent.freeSockets).flat().length, 1, 'the agent holds an idle keep-alive socket');
        const ms = await within(app.close(), IDLE_CLOSE_BOUND_MS, `close() in round ${round} (${path} on ${url})`);
        assert.ok(ms < IDLE_CLOSE_BOUND_MS, `close() took ${Math.round(ms)} ms`);
      } finally {
        agent.destroy();
      }
    }
  });

  test('a download in flight at close() finishes within the grace period, then its connection closes', async () => {
    const { app, port, lines } = await startApp({ closeGraceMs: 5000 });
    const download = openDownload(port, '/images/debian/big.img', ADDRESSES[1]);
    try {
      const head = await download.headers;
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.match(head, /^Connection: keep-alive$/im, 'the response promised to keep the connection');
      const closing = within(app.close(), 3000, 'close() with a download that finishes');
      // The client reads on once the server is closing: it gets every byte, then the server closes the connection.
      await new Promise((resolve) => setTimeout(resolve, 100));
      download.socket.resume();
      await within(download.done, 3000, 'the connection to close after the download');
      assert.equal((await download.done).bytes, BIG_SIZE, 'the download finished whole');
      const ms = await closing;
      assert.ok(ms < 3000, `close() took ${Math.round(ms)} ms`);
      assert.ok(!lines.some((line) => /grace period were cut/.test(String(line.msg))), 'nothing was cut');
    } finally {
      download.socket.destroy();
    }
  });

  test('a download still in flight when the grace period ends is cut, and close() resolves', async () => {
    const graceMs = 500;
    const { app, port, lines } = await startApp({ closeGraceMs: graceMs, stallMs: 60_000 });
    const downloads = ADDRESSES.map((address) => openDownload(port, '/images/debian/big.img', address));
    try {
      const heads = await Promise.all(downloads.map((download) => download.headers));
      const ms = await within(app.close(), graceMs + 1500, 'close() with clients that stopped reading');
      assert.ok(ms >= graceMs - 50, `close() waited ${Math.round(ms)} ms, not the ${graceMs} ms grace period`);
      for (const [index, download] of downloads.entries()) {
        download.socket.resume();
        const { bytes } = await within(download.done, 1000, `the connection on ${ADDRESSES[index]} to close`).then(() => download.done);
        assert.equal(contentLength(heads[index] ?? ''), BIG_SIZE);
        assert.ok(bytes < BIG_SIZE, `the download on ${ADDRESSES[index]} was cut (${bytes} of ${BIG_SIZE} bytes), not left open`);
      }
      const cut = lines.find((line) => /shutdown grace period were cut/.test(String(line.msg)));
      assert.deepEqual([cut?.connections, cut?.graceMs], [2, graceMs], 'one log line says how many connections were cut');
    } finally {
      for (const download of downloads) download.socket.destroy();
    }
  });
});

describe('bootstation serve on SIGTERM', () => {
  test('exits 0 within 8 s (docker stop kills after 10 s) with an idle keep-alive client and one that stopped reading a download', async (context) => {
    const configPath = join(root, 'images.yaml');
    await writeFile(configPath, `images:\n  - id: debian\n    source: {dir: ${imageDir}}\n    boot: {kernel: linux}\n`);
    const port = await freeTcpPort();
    const server = startCli(['serve', '--config', configPath, '--data', join(root, 'data'), '--address', '127.0.0.1', '--http-port', String(port), '--no-proxy-dhcp', '--tftp-port', '0']);
    const agent = new http.Agent({ keepAlive: true });
    let stalled: ReturnType<typeof openDownload> | undefined;
    try {
      await waitFor('the kernel over HTTP', async () => (await fetch(`http://127.0.0.1:${port}/images/debian/linux`).catch(() => undefined))?.ok);
      await new Promise<void>((resolve, reject) => {
        http.get(`http://127.0.0.1:${port}/images/debian/linux`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
      stalled = openDownload(port, '/images/debian/big.img');
      await stalled.headers;
      const started = performance.now();
      server.child.kill('SIGTERM');
      await within(server.exited, 8000, 'bootstation serve to exit after SIGTERM');
      const code = await server.exited;
      assert.equal(code, 0, server.output());
      const ms = performance.now() - started;
      stalled.socket.resume();
      const { bytes } = await stalled.done;
      assert.ok(bytes < BIG_SIZE, `the stalled download was cut (${bytes} bytes)`);
      assert.ok(ms < 8000, `exited after ${Math.round(ms)} ms`);
      assert.match(server.output(), /"connections":1,.*shutdown grace period were cut/, 'the stalled download was cut at the end of the grace period');
      context.diagnostic(`exited ${Math.round(ms)} ms after SIGTERM`);
    } finally {
      agent.destroy();
      stalled?.socket.destroy();
      server.child.kill('SIGKILL');
    }
  });
});
