// The services report to an event sink on loopback: a DHCP offer, a TFTP transfer and an HTTP fetch of one
// client end up as one timeline in the store, under the MAC the DHCP request gave.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { BootstationConfig } from '../../src/config/model.ts';
import { encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { createProxyDhcpService, type ProxyDhcpService } from '../../src/dhcp/service.ts';
import type { BootEventInput } from '../../src/events/model.ts';
import { createEventStore } from '../../src/events/store.ts';
import { buildHttpApp } from '../../src/http/app.ts';
import { createTftpService, type TftpService } from '../../src/tftp/service.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { tempFileSource, TftpErrorReply, tftpGet, waitFor } from '../support/tftp-test-client.ts';

const MAC = '52:54:00:0e:0e:01';
const log = pino({ level: 'silent' });
const store = createEventStore({ now: Date.now });
const seen: BootEventInput[] = [];
const sink = { emit: (event: BootEventInput) => void (seen.push(event), store.record(event)) };
const undionly = randomBytes(70_000);
const files = await tempFileSource({ 'undionly.kpxe': undionly });
const imageDir = await mkdtemp(join(tmpdir(), 'bootstation-events-'));
const config: BootstationConfig = {
  server: { httpPort: 8080, proxyDhcp: true },
  menu: { title: 'Lab', timeoutSeconds: 5 },
  ipxe: { keymap: 'us' },
  images: [{ id: 'debian', label: 'Debian', dir: imageDir, kernel: 'linux', initrds: ['initrd.gz'], args: '' }],
  hosts: new Map(),
};
let dhcp: ProxyDhcpService;
let tftp: TftpService;
const app = buildHttpApp({ config: () => config, serverUrl: () => 'http://127.0.0.1:8080', ipxe: () => ({ dir: imageDir, kind: 'stock', files: new Map() }), log, events: sink });

before(async () => {
  await writeFile(join(imageDir, 'linux'), Buffer.alloc(20_000, 3));
  dhcp = await createProxyDhcpService({
    // ProxyDHCP is "us" at 127.0.0.2, so the machine can be 127.0.0.1, where TFTP and HTTP see it too.
    address: '127.0.0.2', dhcpPort: 0, pxePort: 0, log, events: sink,
    policy: () => ({ serverAddress: '127.0.0.2', httpPort: 8080, bootScriptUrl: 'http://127.0.0.1:8080/boot.ipxe', binaries: new Set(['undionly.kpxe']), customBuild: false }),
  });
  tftp = await createTftpService({ address: '127.0.0.1', port: 0, files: files.source, log, events: sink });
  await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await Promise.all([dhcp.close(), tftp.close(), app.close()]);
  await files.cleanup();
  await rm(imageDir, { recursive: true, force: true });
});

describe('services report boot events', () => {
  it('ProxyDHCP reports its offer with the firmware, file and the client address from ciaddr', async () => {
    // Unicast from 127.0.0.1 with ciaddr 127.0.0.1 (ciaddr counts only when it is the sender), so the answer stays
    // on loopback and the sender is not "us".
    const client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    client.send(encodeDhcpPacket(pxeClientRequest({ mac: MAC, ciaddr: '127.0.0.1', messageType: 3 })), dhcp.pxePort, '127.0.0.2');
    await waitFor(() => seen.some((event) => event.kind === 'dhcp-offer'), 'the offer event');
    client.close();
    const offer = seen.find((event) => event.kind === 'dhcp-offer');
    assert.deepEqual(offer && { ...offer, vendorClass: undefined }, { kind: 'dhcp-offer', mac: MAC, firmware: 'bios-pxe', file: 'undionly.kpxe', port: 4011, ip: '127.0.0.1', vendorClass: undefined });
  });

  it('TFTP reports a transfer with file, negotiated sizes, bytes and outcome, filed under the MAC', async () => {
    await tftpGet({ port: tftp.port, file: 'undionly.kpxe', options: [{ name: 'blksize', value: '1408' }, { name: 'windowsize', value: '4' }] });
    await waitFor(() => seen.some((event) => event.kind === 'tftp-transfer'), 'the transfer event');
    const transfer = seen.find((event) => event.kind === 'tftp-transfer');
    assert.ok(transfer?.kind === 'tftp-transfer');
    assert.deepEqual(
      { ip: transfer.ip, file: transfer.file, blockSize: transfer.blockSize, windowSize: transfer.windowSize, bytes: transfer.bytes, outcome: transfer.outcome },
      { ip: '127.0.0.1', file: 'undionly.kpxe', blockSize: 1408, windowSize: 4, bytes: undionly.length, outcome: 'completed' },
    );
    assert.equal(store.client(MAC)?.view.step, 'tftp');
  });

  it('TFTP reports a missing file as file-not-found', async () => {
    await assert.rejects(tftpGet({ port: tftp.port, file: 'pxelinux.0' }), TftpErrorReply);
    await waitFor(() => seen.some((event) => event.kind === 'tftp-transfer' && event.outcome === 'file-not-found'), 'the not-found event');
  });

  it('HTTP reports boot.ipxe?mac= and a kernel fetch with its Range; both land on the same client', async () => {
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    await (await fetch(`${base}/boot.ipxe?mac=${MAC}&platform=pcbios&buildarch=i386`)).text();
    const partial = await fetch(`${base}/images/debian/linux`, { headers: { range: 'bytes=0-9999' } });
    assert.equal((await partial.arrayBuffer()).byteLength, 10_000);
    await waitFor(() => seen.filter((event) => event.kind === 'http-fetch').length === 2, 'two fetch events');
    const [script, kernel] = seen.filter((event) => event.kind === 'http-fetch');
    assert.deepEqual(script && { role: script.role, mac: script.mac, path: script.path }, { role: 'boot-script', mac: MAC, path: '/boot.ipxe' });
    assert.deepEqual(kernel && { role: kernel.role, image: kernel.image, bytes: kernel.bytes, status: kernel.status, range: kernel.range }, { role: 'kernel', image: 'debian', bytes: 10_000, status: 206, range: 'bytes=0-9999' });
    const view = store.client(MAC)!.view;
    assert.deepEqual(Object.keys(view.timeline), ['dhcp', 'tftp', 'script', 'kernel']);
    assert.equal(view.image, 'debian');
  });
});
