import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import got from 'got';
import { fetchPinnedSource } from '../../src/ipxe/fetch-source.ts';
import { PinError } from '../../src/ipxe/pin.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';

// The pinned iPXE tarball is fetched only against a known SHA-256; here a local server stands in for the release.
const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-fetch-'));
const tarball = Buffer.from('stand-in for the iPXE v2.0.0 release tarball\n'.repeat(1000));
const digest = createHash('sha256').update(tarball).digest('hex');
const server = await startHttpFixture((request, response) => sendBody(request, response, tarball));
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
const lines: string[] = [];
const log = (line: string): void => void lines.push(line);

test('a pin without a digest is refused before any request, saying how to proceed', async () => {
  await assert.rejects(
    fetchPinnedSource({ pin: { version: 'v2.0.0', url: server.url('/v2.0.0.tar.gz'), sha256: null }, pinFile: 'ipxe-src/pin.json', dataDir: join(dir, 'no-digest'), http: got, log }),
    (error: unknown) => error instanceof PinError && /--source DIR\|TARBALL, or set "sha256" from the release$/.test(error.message),
  );
  assert.equal(server.requests.length, 0);
});

test('a tarball that does not match the pinned digest is refused and not kept', async () => {
  const data = join(dir, 'wrong');
  await assert.rejects(fetchPinnedSource({ pin: { version: 'v2.0.0', url: server.url('/v2.0.0.tar.gz'), sha256: 'f'.repeat(64) }, dataDir: data, http: got, log }), /sha256|checksum/i);
  await assert.rejects(readFile(join(data, 'cache', 'ipxe', 'ipxe-v2.0.0.tar.gz')), /ENOENT/);
});

test('a matching tarball lands in <data>/cache/ipxe and is reused without a request next time', async () => {
  const data = join(dir, 'right');
  const pin = { version: 'v2.0.0', url: server.url('/v2.0.0.tar.gz'), sha256: digest };
  const source = await fetchPinnedSource({ pin, dataDir: data, http: got, log });
  assert.deepEqual(source, { path: join(data, 'cache', 'ipxe', 'ipxe-v2.0.0.tar.gz'), kind: 'tarball' });
  assert.ok((await readFile(source.path)).equals(tarball));
  const requests = server.requests.length;
  await fetchPinnedSource({ pin, dataDir: data, http: got, log });
  assert.equal(server.requests.length, requests, 'the verified copy is reused');
  assert.match(lines.at(-1) ?? '', /using the verified iPXE v2.0.0 tarball/);
});
