import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAppliance, type Appliance } from '../../src/appliance/server.ts';
import { decodeDhcpPacket, encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { udpExchange } from '../support/udp-exchange.ts';
import { captureLog } from '../support/log-capture.ts';
import { tftpGet } from '../support/tftp-test-client.ts';

// The appliance core in this process, as `bootstation serve` starts it: every service on 127.0.0.1 with port 0,
// a clock that never moves (so file checks are only refreshed by a reload or an ingest, never by time), then stopped.
const dir = await mkdtemp(join(tmpdir(), 'bootstation-appliance-'));
const configPath = join(dir, 'images.yaml');
// images.yaml is a link to this file: writing it fires no watch event in dir, so only the test's own reload applies it.
const configFile = join(dir, 'config', 'images.yaml');
const imageDir = join(dir, 'rescue');
const efiBinary = Buffer.alloc(100_000, 9);
const captured = captureLog('debug');
let appliance: Appliance;

const CONFIG = `menu:\n  title: Core lab\nimages:\n  - id: rescue\n    source: {dir: ${imageDir}}\n    boot: {kernel: vmlinuz}\n`;

before(async () => {
  await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
  await mkdir(imageDir);
  await writeFile(join(dir, 'data', 'ipxe', 'ipxe.efi'), efiBinary);
  await mkdir(join(dir, 'config'));
  await writeFile(configFile, CONFIG);
  await symlink(configFile, configPath);
  appliance = await startAppliance(
    { configPath, dataDir: join(dir, 'data'), address: '127.0.0.1', httpPort: 0, tftpPort: 0, dhcpPort: 0, pxePort: 0, proxyDhcp: true },
    { log: captured.log, now: () => 1_800_000_000_000, stockIpxeDir: join(dir, 'no-stock-ipxe') },
  );
});

after(async () => {
  await appliance.close();
  await rm(dir, { recursive: true, force: true });
});

test('port 0 binds HTTP, TFTP, ProxyDHCP and the PXE port on free ports, and the handle names them', () => {
  const { http, tftp, dhcp, pxe } = appliance.ports;
  for (const [name, port] of Object.entries({ http, tftp, dhcp, pxe })) assert.ok(port !== undefined && port > 0, `${name} got a port: ${port}`);
  assert.equal(appliance.serverUrl, `http://127.0.0.1:${http}`);
  assert.ok(captured.lines.some((line) => line['msg'] === 'bootstation serving'), 'the start is logged');
});

test('each service answers on its bound port: /boot.ipxe names the bound HTTP port, TFTP sends ipxe.efi, the PXE port names it', async () => {
  const script = await (await fetch(`${appliance.serverUrl}/boot.ipxe`)).text();
  assert.match(script, new RegExp(`http://127\\.0\\.0\\.1:${appliance.ports.http}/boot\\.ipxe`));
  const fetched = await tftpGet({ port: appliance.ports.tftp, file: 'ipxe.efi' });
  assert.ok(fetched.data.equals(efiBinary), 'TFTP sends the binary from data/ipxe');
  const request = pxeClientRequest({ architecture: 7, messageType: 3, mac: '52:54:00:00:00:08', ciaddr: '127.0.0.2', xid: 0x5eed });
  const reply = decodeDhcpPacket(await udpExchange(encodeDhcpPacket(request), appliance.ports.pxe!));
  assert.equal(reply.file, 'ipxe.efi');
});

test('the dashboard reads image state from the live config and its cache: a new file shows after a reload, not per request', async () => {
  const state = async (): Promise<string[]> =>
    ((await (await fetch(`${appliance.serverUrl}/api/images`)).json()) as { images: Array<{ id: string; state: string }> }).images.map((image) => `${image.id}:${image.state}`);
  assert.deepEqual(await state(), ['rescue:missing files']);
  await writeFile(join(imageDir, 'vmlinuz'), 'kernel');
  assert.deepEqual(await state(), ['rescue:missing files'], 'the clock stands still: the cached check answers, nothing is stat-ed again');
  // The file on disk changes without a reload: the dashboard must not see it (it would if it re-read images.yaml).
  await writeFile(configFile, `${CONFIG}  - id: unseen\n    source: {dir: ${imageDir}}\n    boot: {kernel: vmlinuz}\n`);
  assert.deepEqual(await state(), ['rescue:missing files'], 'only the live config is read');
  assert.equal(await appliance.config.reload('test'), true);
  assert.deepEqual(await state(), ['rescue:ready', 'unseen:ready'], 'a reload checks the files again');
});

test('close() releases every port: all four can be bound again at once', async () => {
  const closing = await startAppliance(
    { configPath, dataDir: join(dir, 'data'), address: '127.0.0.1', httpPort: 0, tftpPort: 0, dhcpPort: 0, pxePort: 0, proxyDhcp: true },
    { log: captureLog('silent').log, stockIpxeDir: join(dir, 'no-stock-ipxe') },
  );
  const { http, tftp, dhcp, pxe } = closing.ports;
  await closing.close();
  await bindTcp(http);
  for (const port of [tftp, dhcp!, pxe!]) await bindUdp(port);
  await assert.rejects(fetch(`http://127.0.0.1:${http}/healthz`), 'nothing answers HTTP after close');
});

// Binds port on 0.0.0.0 without SO_REUSEADDR (which would share a port still held) and lets it go again.
function bindUdp(port: number): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => reject(new Error(`UDP port ${port} is still held after close: ${error.message}`)));
    socket.bind(port, '0.0.0.0', () => socket.close(() => resolve()));
  });
}

function bindTcp(port: number): Promise<void> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`TCP port ${port} is still held after close: ${error.message}`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
