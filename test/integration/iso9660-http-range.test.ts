// The ISO 9660 reader over HTTP Range requests (what `source.fetch: files` does with a remote ISO): the
// same tree and bytes as over the local file, in few requests.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openIsoImage, type IsoEntry, type RandomAccessSource } from '../../src/ingest/iso9660/iso-image.ts';
import { fingerprintImage, openImageFile, sha256Of } from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const present = await access(ISO).then(
  () => true,
  () => false,
);

/** Serves one file with single-range Range support, counting requests. */
function serveWithRanges(path: string, size: number): { server: Server; requests: () => number } {
  let requests = 0;
  const server = createServer((request, response) => {
    requests++;
    const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
    if (!match) {
      response.writeHead(416).end();
      return;
    }
    const start = Number(match[1]);
    const end = Math.min(Number(match[2]), size - 1);
    response.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
    createReadStream(path, { start, end }).pipe(response);
  });
  return { server, requests: () => requests };
}

/** A random-access source made of HTTP Range requests. */
function httpSource(url: string, size: number): RandomAccessSource {
  return {
    size,
    async read(position, length) {
      const response = await fetch(url, { headers: { range: `bytes=${position}-${position + length - 1}` } });
      assert.equal(response.status, 206);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

describe('ISO 9660 reader over HTTP Range requests', { skip: skipOrFail('iso9660-http-range', present ? undefined : `${ISO} is absent (Debian package: grub-rescue-pc)`) }, () => {
  let served: ReturnType<typeof serveWithRanges>;
  let url = '';
  let size = 0;

  before(async () => {
    size = (await stat(ISO)).size;
    served = serveWithRanges(ISO, size);
    await new Promise<void>((resolve) => served.server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}/grub-rescue-cdrom.iso`;
  });
  after(() => new Promise<void>((resolve) => served.server.close(() => resolve())));

  it('walks the tree in one request per directory plus a few for descriptors and continuation areas', async () => {
    const image = await openIsoImage(httpSource(url, size));
    let directories = 1;
    for await (const entry of image.walk()) if (entry.kind === 'directory') directories++;
    // One 64 KiB window for the descriptors and the root's SP/ER, one read per directory, and CE windows
    // (libisofs writes continuation areas next to their directory).
    assert.ok(served.requests() <= directories + 4, `${served.requests()} requests for ${directories} directories`);
  });

  it('reads the same tree and bytes as from the local file', async () => {
    const file = await openImageFile(ISO);
    try {
      const local = await fingerprintImage(await openIsoImage(file));
      const remote = await openIsoImage(httpSource(url, size));
      assert.deepEqual(await fingerprintImage(remote), local);
      const font = (await remote.lookup('boot/grub/fonts/unicode.pf2')) as IsoEntry;
      const requestsForFont = served.requests();
      await sha256Of(remote.readFile(font));
      // 2.3 MB in 1 MiB chunks: three requests, not one per block.
      assert.equal(served.requests() - requestsForFont, Math.ceil(font.size / (1024 * 1024)));
    } finally {
      await file.close();
    }
  });
});
