import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeDhcpPacket, encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { freeTcpPort, freeUdpPort, startCli, waitFor } from '../support/cli.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { udpExchange } from '../support/udp-exchange.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// The whole appliance as users run it: `bootstation serve` with ProxyDHCP, TFTP and HTTP on loopback ports.
const dir = await mkdtemp(join(tmpdir(), 'bootstation-serve-'));
const efiBinary = Buffer.alloc(300_000, 7);
let server: ReturnType<typeof startCli>;
let ports: { http: number; tftp: number; dhcp: number; pxe: number };

before(async () => {
  await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
  await writeFile(join(dir, 'data', 'ipxe', 'ipxe.efi'), efiBinary);
  await writeFile(join(dir, 'data', 'ipxe', 'undionly.kpxe'), 'bios');
  await writeFile(join(dir, 'images.yaml'), 'menu:\n  title: Loopback lab\n');
  // UDP ports: pick them the way the OS would, then hand them to serve.
  ports = { http: await freeTcpPort(), tftp: await freeUdpPort(), dhcp: await freeUdpPort(), pxe: await freeUdpPort() };
  // debug: the line per DHCP answer is a debug line (info gets a summary a minute), and a test below reads it.
  server = startCli([
    'serve', '--config', join(dir, 'images.yaml'), '--data', join(dir, 'data'), '--address', '127.0.0.1',
    '--http-port', String(ports.http), '--tftp-port', String(ports.tftp), '--dhcp-port', String(ports.dhcp), '--pxe-port', String(ports.pxe),
  ], { BOOTSTATION_LOG_LEVEL: 'debug' });
  await waitFor('bootstation to serve', async () => server.output().includes('bootstation serving'));
});

after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
});

test('a UEFI PXE request on the PXE port is answered with ipxe.efi, siaddr and one decision log line', async () => {
  const request = pxeClientRequest({ architecture: 7, messageType: 3, mac: '52:54:00:00:00:07', ciaddr: '127.0.0.2', xid: 0x0badcafe });
  const reply = decodeDhcpPacket(await udpExchange(encodeDhcpPacket(request), ports.pxe));
  assert.equal(reply.xid, 0x0badcafe);
  assert.equal(reply.file, 'ipxe.efi');
  assert.equal(reply.siaddr, '127.0.0.1');
  assert.equal(reply.yiaddr, '0.0.0.0', 'ProxyDHCP never hands out an address');
  const line = await waitFor('the decision log line', async () =>
    server.output().split('\n').find((l) => l.includes('52:54:00:00:00:07') && l.includes('proxydhcp')),
  );
  assert.match(line, /ipxe\.efi/);
});

test('TFTP serves the binary the DHCP answer named, to a real client when tftp-hpa is installed', async (t) => {
  const tftp = await promisify(execFile)('which', ['tftp']).catch(() => undefined);
  const skip = skipOrFail('serve-tftp-hpa', tftp ? undefined : 'tftp-hpa is not installed');
  if (skip) return t.skip(skip);
  const target = join(dir, 'fetched.efi');
  await promisify(execFile)('tftp', ['127.0.0.1', String(ports.tftp), '-m', 'binary', '-c', 'get', 'ipxe.efi', target]);
  assert.ok((await readFile(target)).equals(efiBinary), 'the fetched binary must be identical');
});

test('HTTP serves boot.ipxe pointing back at the same server', async () => {
  const script = await (await fetch(`http://127.0.0.1:${ports.http}/boot.ipxe`)).text();
  assert.match(script, new RegExp(`chain --autofree http://127\\.0\\.0\\.1:${ports.http}/boot\\.ipxe\\?mac=\\$\\{net0/mac\\}`));
});

