// Issue 14 item 3: /api/events/stream ignored write backpressure. 16 clients that never read plus 40,000 DISCOVERs
// took RSS from 180 to 525 MB, and the global cap of 16 let one client lock everybody else out of the dashboard.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createBootMetrics, fanOut } from '../../src/events/metrics.ts';
import { createEventStore } from '../../src/events/store.ts';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { startHostileServer, type HostileServer } from './http-hostile-server.ts';
import { captureLog } from '../support/log-capture.ts';

// Four addresses of 127.0.0.0/8 (Linux answers on all of them) with four streams each: the per-address cap.
const ATTACKERS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STREAMS_PER_ATTACKER = 4;
const FLOOD_EVENTS = 40_000;
// Events per turn of the event loop, as DHCP packets arrive: a reading client gets its share between turns.
const EVENTS_PER_TURN = 200;
// The figure was +345 MB of RSS for 16 streams. What the server may hold for them is 1 MiB unread per
// stream, 16 MiB for these 16; the event history and the collector's slack come on top.
const UNREAD_BOUND_BYTES = 16 * 1.1 * 2 ** 20;
const RETAINED_BOUND_MB = 48;
const RSS_GROWTH_BOUND_MB = 200;

// A full collection before each measurement, so that garbage not yet collected is not counted as held.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('event streams whose clients never read', () => {
  const store = createEventStore({ now: Date.now });
  const metrics = createBootMetrics({ tftpActive: () => 0 });
  const events = fanOut(store, metrics);
  const logs = captureLog('warn');
  let server: HostileServer;
  const serverSockets = new Set<net.Socket>();
  before(async () => {
    server = await startHostileServer({
      log: logs.log,
      events,
      dashboard: { store, metrics, images: async (): Promise<ImageStatus[]> => [], ipxe: () => ({ dir: '/nowhere', kind: 'stock', files: new Map() }), adminToken: () => undefined, title: () => 'x' },
    });
    server.app.server.on('connection', (socket: net.Socket) => {
      serverSockets.add(socket);
      socket.once('close', () => serverSockets.delete(socket));
    });
  });
  after(() => server.close());

  test('a fifth stream from one address is refused while another address still gets one', async () => {
    const mine = await Promise.all(Array.from({ length: STREAMS_PER_ATTACKER }, () => openStream(server.port, '127.0.0.9')));
    assert.deepEqual(mine.map((stream) => stream.status), [200, 200, 200, 200]);
    const fifth = await openStream(server.port, '127.0.0.9');
    assert.equal(fifth.status, 503, 'the per-address cap');
    const other = await openStream(server.port, '127.0.0.10');
    assert.equal(other.status, 200, 'another address is not locked out');
    for (const stream of [...mine, fifth, other]) stream.socket.destroy();
  });

  test(`16 streams that never read and ${FLOOD_EVENTS} events: memory stays bounded, the slow streams are dropped, a reader keeps its stream`, async (test) => {
    const slow = await Promise.all(ATTACKERS.flatMap((address) => Array.from({ length: STREAMS_PER_ATTACKER }, () => openStream(server.port, address))));
    for (const stream of slow) {
      assert.equal(stream.status, 200);
      // A client that never reads: nothing more is taken from the kernel's buffer.
      stream.socket.pause();
    }
    const reader = await openStream(server.port, '127.0.0.5');
    assert.equal(reader.status, 200);
    let readerBytes = 0;
    reader.socket.on('data', (chunk: Buffer) => (readerBytes += chunk.length));

    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    let peakUnread = 0;
    let peakRss = rssBefore;
    for (let sent = 0; sent < FLOOD_EVENTS; sent += EVENTS_PER_TURN) {
      for (let index = sent; index < sent + EVENTS_PER_TURN; index++) {
        const mac = `52:54:00:${hex(index >> 16)}:${hex(index >> 8)}:${hex(index)}`;
        events.emit({ kind: 'dhcp-offer', mac, firmware: 'efi-x64-pxe', file: 'ipxe.efi', port: 4011, ip: '10.0.0.1' });
      }
      peakUnread = Math.max(peakUnread, [...serverSockets].reduce((sum, socket) => sum + socket.writableLength, 0));
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const growthMb = (peakRss - rssBefore) / 2 ** 20;
    collectGarbage();
    const retainedMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const figures = `peak unread ${(peakUnread / 2 ** 20).toFixed(1)} MiB, heap retained after the flood +${retainedMb.toFixed(0)} MB, peak RSS +${growthMb.toFixed(0)} MB (${(rssBefore / 2 ** 20).toFixed(0)} → ${(peakRss / 2 ** 20).toFixed(0)} MB)`;
    test.diagnostic(figures);
    // The clients are paused and will not see the end; the server's side of their connections tells.
    const slowPorts = new Set(slow.map((stream) => stream.socket.localPort));
    const stillOpen = [...serverSockets].filter((socket) => slowPorts.has(socket.remotePort));
    assert.equal(stillOpen.length, 0, `${stillOpen.length} of the 16 slow streams are still open on the server`);
    assert.ok(peakUnread <= UNREAD_BOUND_BYTES, `the server held too much unread: ${figures}`);
    assert.ok(retainedMb < RETAINED_BOUND_MB, `the heap kept too much: ${figures}`);
    assert.ok(growthMb < RSS_GROWTH_BOUND_MB, `RSS grew too much: ${figures}`);
    assert.equal(reader.socket.destroyed, false, 'the client that reads keeps its stream');
    assert.ok(readerBytes > 1024 * 1024, `the reader received ${readerBytes} bytes`);
    const dropped = logs.lines.filter((line) => line['msg']?.toString().startsWith('event stream dropped'));
    assert.equal(dropped.length, 16, 'each slow stream is dropped once, and the log says why');
    assert.ok(ATTACKERS.includes(String(dropped[0]?.['client'])), 'the log names the client');
    reader.socket.destroy();
    for (const stream of slow) stream.socket.destroy();
  });
});

function hex(value: number): string {
  return (value & 0xff).toString(16).padStart(2, '0');
}

interface OpenStream {
  status: number;
  socket: net.Socket;
}

/** Opens /api/events/stream from a source address on a raw socket and resolves with the status once it is known. */
function openStream(port: number, localAddress: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (!match) return;
      socket.off('data', onData);
      resolve({ status: Number(match[1]), socket });
    };
    socket.on('data', onData);
    socket.once('connect', () => socket.write(`GET /api/events/stream HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.once('close', () => reject(new Error('closed before a status line')));
  });
}
