// writeFileBody over real sockets: exact bytes for ranges of any length, keep-alive, and a clean stop when the
// client hangs up or the file shrinks underneath.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FILE_CHUNK_BYTES, FileBodyError, writeFileBody } from '../../src/http/file-body.ts';

let root = '';
let port = 0;
let server: http.Server;
// Three and a half chunks, so every range crosses buffer boundaries and ends inside one.
const content = randomBytes(3 * FILE_CHUNK_BYTES + FILE_CHUNK_BYTES / 2 + 7);
const outcomes: Array<Promise<unknown>> = [];
/** Called with the server's response before the body starts; a test may swap it to act mid-download. */
let beforeBody: (path: string) => Promise<void> = async () => {};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bootstation-file-body-'));
  await writeFile(join(root, 'file.bin'), content);
  // Larger than the socket buffers of a client that stops reading, so its response really stalls.
  await writeFile(join(root, 'large.bin'), randomBytes(32 * 1024 * 1024));
  server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const path = join(root, url.pathname.slice(1));
    const start = Number(url.searchParams.get('start') ?? 0);
    const end = Number(url.searchParams.get('end') ?? content.length - 1);
    response.writeHead(200, { 'content-length': end + 1 - start });
    const outcome = beforeBody(path).then(() => writeFileBody(path, start, end, response));
    outcomes.push(outcome.catch((error: unknown) => error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

/** GETs path; a connection cut before or during the body resolves as incomplete. */
function get(path: string, agent?: http.Agent): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ body: Buffer.concat(chunks), complete: response.complete }));
        response.on('error', () => resolve({ body: Buffer.concat(chunks), complete: false }));
      })
      .on('error', () => resolve({ body: Buffer.alloc(0), complete: false }));
  });
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('writeFileBody', () => {
  test('sends exactly the asked bytes for ranges inside one chunk, across chunks and to the end', async () => {
    const ranges: Array<[number, number]> = [
      [0, content.length - 1],
      [0, 0],
      [5, 17],
      [FILE_CHUNK_BYTES - 3, FILE_CHUNK_BYTES + 2],
      [FILE_CHUNK_BYTES, 3 * FILE_CHUNK_BYTES - 1],
      [content.length - 1, content.length - 1],
      [12345, content.length - 1],
    ];
    for (const [start, end] of ranges) {
      const { body, complete } = await get(`/file.bin?start=${start}&end=${end}`);
      assert.ok(complete, `${start}-${end} complete`);
      assert.equal(body.length, end + 1 - start, `${start}-${end} length`);
      assert.equal(sha(body), sha(content.subarray(start, end + 1)), `${start}-${end} bytes`);
    }
  });

  test('many downloads at once each get their own bytes (recycled buffers never leak between responses)', async () => {
    // 40 downloads want more read-ahead buffers than the shared allowance: some run on their first buffer alone.
    const ranges = Array.from({ length: 40 }, (_, index) => [index * 1000, content.length - 1 - index * 997] as const);
    const results = await Promise.all(ranges.map(([start, end]) => get(`/file.bin?start=${start}&end=${end}`)));
    for (const [index, [start, end]] of ranges.entries()) {
      assert.equal(sha(results[index]!.body), sha(content.subarray(start, end + 1)), `download ${index}`);
    }
  });

  test('keep-alive: the connection serves the next request after a body ends', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let sockets = 0;
    const count = (): void => void sockets++;
    server.on('connection', count);
    try {
      for (let i = 0; i < 3; i++) {
        const { body } = await get(`/file.bin?start=${i}&end=${FILE_CHUNK_BYTES + i}`, agent);
        assert.equal(sha(body), sha(content.subarray(i, FILE_CHUNK_BYTES + i + 1)));
      }
      assert.equal(sockets, 1, 'all three requests used one connection');
    } finally {
      agent.destroy();
      server.off('connection', count);
    }
  });

  test('clients that stop reading hold no buffers the others need', async () => {
    const stalled = await Promise.all(
      Array.from({ length: 24 }, () =>
        new Promise<http.ClientRequest>((resolve, reject) => {
          const request = http.get({ host: '127.0.0.1', port, path: '/large.bin', agent: false }, (response) => {
            response.once('data', () => {
              response.pause();
              resolve(request);
            });
          });
          request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
        }),
      ),
    );
    try {
      const { body, complete } = await get('/file.bin');
      assert.ok(complete);
      assert.equal(sha(body), sha(content));
    } finally {
      for (const request of stalled) request.destroy();
    }
  });

  test('a client that hangs up halfway ends the body with a client-gone error, and the server keeps serving', async () => {
    const before = outcomes.length;
    await new Promise<void>((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port, path: '/file.bin', agent: false }, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    });
    const error = await outcomes[before];
    assert.ok(error instanceof FileBodyError, `rejected with FileBodyError, got ${String(error)}`);
    assert.equal(error.clientGone, true);
    const { body } = await get('/file.bin');
    assert.equal(sha(body), sha(content));
  });

  test('a file that shrinks during the download cuts the connection (a short body never looks complete)', async () => {
    const path = join(root, 'shrinking.bin');
    await writeFile(path, content);
    const before = outcomes.length;
    beforeBody = (file) => truncate(file, FILE_CHUNK_BYTES + 10);
    try {
      const { body, complete } = await get('/shrinking.bin');
      assert.equal(complete, false, 'the client sees an incomplete response');
      assert.ok(body.length < content.length);
    } finally {
      beforeBody = async () => {};
    }
    const error = await outcomes[before];
    assert.ok(error instanceof FileBodyError, `rejected with FileBodyError, got ${String(error)}`);
    assert.equal(error.clientGone, false);
    assert.ok(error.message.includes(`shrinking.bin ended at byte ${FILE_CHUNK_BYTES + 10} `), error.message);
  });

  test('a file gone before the body starts cuts the connection with the reason', async () => {
    const { complete } = await get('/missing.bin');
    assert.equal(complete, false);
    const error = await outcomes.at(-1);
    assert.ok(error instanceof FileBodyError);
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
  });
});
