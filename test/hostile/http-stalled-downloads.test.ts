// Issue 14 item 5: stalled HTTP downloads were never cut. Fastify's request and connection timeouts were 0 and
// there was no connection cap: 400 GETs of a 256 MiB file that never read took RSS from 109 to 325 MB and were all
// still open after 150 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { assertHealthzFast, startHostileServer, timeHealthz, type HostileServer } from './http-hostile-server.ts';

const BIG_FILE_BYTES = 256 * 1024 * 1024;
// Small bounds so the test is quick; the defaults (README "Limits and bounds") are 30 s and 60 s.
const STALL_MS = 1500;
const REQUEST_TIMEOUT_MS = 1000;
// The 400 downloads, from 16 addresses of 127.0.0.0/8 (25 each, under the per-address cap of 32).
const ADDRESSES = Array.from({ length: 16 }, (_, index) => `127.0.0.${index + 1}`);
const PER_ADDRESS = 25;
// Above the 400, so that the /healthz probes are never the connection over the cap: the caps are tested below.
const MAX_CONNECTIONS = 1000;

describe('downloads whose clients never read', () => {
  let server: HostileServer;
  const serverSockets = new Set<net.Socket>();
  let peakOpen = 0;
  before(async () => {
    server = await startHostileServer({ limits: { stallMs: STALL_MS, requestTimeoutMs: 60_000, maxConnections: MAX_CONNECTIONS } });
    // Sparse: 256 MiB that read as zeros without taking the disk.
    await writeFile(join(server.imageDir, 'big.iso'), '');
    await truncate(join(server.imageDir, 'big.iso'), BIG_FILE_BYTES);
    server.app.server.on('connection', (socket: net.Socket) => {
      // Connections over the cap were closed by the listener before this one.
      if (socket.destroyed) return;
      serverSockets.add(socket);
      peakOpen = Math.max(peakOpen, serverSockets.size);
      socket.once('close', () => serverSockets.delete(socket));
    });
  });
  after(() => server.close());

  test(`400 stalled GETs of 256 MiB: all cut ${STALL_MS} ms after they stall, RSS bounded by what is open, /healthz stays under 100 ms`, async (context) => {
    await timeHealthz(server.port);
    const rssBefore = process.memoryUsage().rss;
    // Each address opens its downloads one after the other, as machines would; the addresses run side by side.
    const perAddress = await Promise.all(
      ADDRESSES.map(async (address) => {
        const opened: StalledGet[] = [];
        for (let index = 0; index < PER_ADDRESS; index++) opened.push(await stalledGet(server.port, address));
        return opened;
      }),
    );
    const clients = perAddress.flat();
    const started = performance.now();
    assert.ok(clients.every((client) => client.started), 'every download started');
    let peakRss = rssBefore;
    const healthz: number[] = [];
    // Until every download is cut, or twice the bound has passed.
    while (serverSockets.size > 0 && performance.now() - started < 2 * STALL_MS + 3000) {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      healthz.push(await timeHealthz(server.port, { localAddress: '127.0.0.200', askedAt: performance.now() }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const cutAfter = performance.now() - started;
    const growthMb = (peakRss - rssBefore) / 2 ** 20;
    context.diagnostic(`at most ${peakOpen} downloads open at once, all cut ${cutAfter.toFixed(0)} ms after the last one started, peak RSS +${growthMb.toFixed(0)} MB, /healthz max ${Math.max(...healthz).toFixed(0)} ms`);
    assert.equal(serverSockets.size, 0, `${serverSockets.size} stalled downloads still open after ${cutAfter.toFixed(0)} ms`);
    assert.ok(cutAfter < STALL_MS + 2500, `the last stalled download was cut after ${cutAfter.toFixed(0)} ms`);
    // Each open download holds at most one 512 KiB buffer while it stalls; 80 MB is slack for the collector and
    // the sockets. The issue measured +216 MB for 400 downloads, held until they ended.
    const rssBoundMb = peakOpen * 0.5 + 80;
    assert.ok(growthMb < rssBoundMb, `RSS grew by ${growthMb.toFixed(0)} MB, over ${rssBoundMb} MB for ${peakOpen} downloads`);
    assertHealthzFast(healthz, '400 stalled downloads');
    for (const client of clients) client.socket.destroy();
  });
});

describe('connection caps and the request timeout', () => {
  let server: HostileServer;
  before(async () => {
    server = await startHostileServer({ limits: { maxConnections: 6, maxConnectionsPerAddress: 4, requestTimeoutMs: REQUEST_TIMEOUT_MS } });
  });
  after(() => server.close());

  test('a fifth connection from one address is closed at once while another address still gets /healthz', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => connect(server.port, '127.0.0.1')));
    const fifth = await connect(server.port, '127.0.0.1');
    const fifthAnswer = await exchange(fifth, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(fifthAnswer, '', 'the connection over the cap is closed without an answer');
    assert.ok((await timeHealthz(server.port, { localAddress: '127.0.0.2' })) < 1000, 'another address gets in');
    for (const socket of held) socket.destroy();
  });

  test('over the total cap, a connection from any address is closed at once; one is let in when another closes', async () => {
    // Addresses of their own: the previous test's connections may still be closing on the server's side.
    const held = await Promise.all(['127.0.0.11', '127.0.0.11', '127.0.0.11', '127.0.0.12', '127.0.0.12', '127.0.0.13'].map((address) => connect(server.port, address)));
    // Connections are counted once the server has taken them from the kernel's queue.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await exchange(await connect(server.port, '127.0.0.14'), 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), '', 'the seventh is closed');
    held.pop()!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok((await timeHealthz(server.port, { localAddress: '127.0.0.14' })) < 1000, 'a slot freed is a slot for anyone');
    for (const socket of held) socket.destroy();
  });

  test(`a request that does not arrive within ${REQUEST_TIMEOUT_MS} ms is answered 408 and closed`, async () => {
    const socket = await connect(server.port, '127.0.0.3');
    const started = performance.now();
    // Slowloris: half a request line, then nothing.
    const answer = await exchange(socket, 'GET /images/debian/lin');
    const elapsed = performance.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed < REQUEST_TIMEOUT_MS + 2000, `the 408 came after ${elapsed.toFixed(0)} ms`);
  });
});

interface StalledGet {
  socket: net.Socket;
  /** The download started (its first bytes came); false: the connection was closed before. */
  started: boolean;
}

/** Sends a GET for the big file from localAddress, takes the first bytes of the answer, and then reads no more. */
async function stalledGet(port: number, localAddress: string): Promise<StalledGet> {
  const socket = await connect(port, localAddress);
  socket.on('error', () => {});
  const started = await new Promise<boolean>((resolve) => {
    socket.once('data', () => {
      socket.pause();
      resolve(true);
    });
    socket.once('close', () => resolve(false));
    socket.write('GET /images/debian/big.iso HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  return { socket, started };
}

function connect(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes text and resolves with everything received until the server closes the connection. */
function exchange(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {});
    socket.once('close', () => resolve(received));
    socket.write(text);
  });
}
