// The ProxyDHCP service on loopback: real sockets, port 0, a client on 127.0.0.2 so it is not "us" (127.0.0.1).
// Replies are made unicast (ciaddr set, or port 4011) so that nothing is broadcast outside this host's loopback;
// broadcast and interface selection are covered by dhcp-netns.test.ts inside network namespaces.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BindError } from '../../src/net/bind-error.ts';
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from '../../src/dhcp/codec.ts';
import type { ProxyDhcpPolicy } from '../../src/dhcp/proxy-answer.ts';
import { createProxyDhcpService, type ProxyDhcpService } from '../../src/dhcp/service.ts';
import { pxeClientRequest, type TestClient } from '../../tools/dhcp-request-builder.ts';

const serverAddress = '127.0.0.1';
const clientAddress = '127.0.0.2';
let policy: ProxyDhcpPolicy = {
  serverAddress,
  httpPort: 8080,
  bootScriptUrl: 'http://127.0.0.1:8080/boot.ipxe',
  binaries: new Set(['undionly.kpxe', 'ipxe.efi']),
  customBuild: false,
};
const logLines: Array<Record<string, unknown>> = [];
let service: ProxyDhcpService;
let client: Socket;
const received: Array<{ packet: DhcpPacket; fromPort: number }> = [];

before(async () => {
  client = createSocket('udp4');
  client.bind(0, clientAddress);
  await once(client, 'listening');
  client.on('message', (bytes, remote) => received.push({ packet: decodeDhcpPacket(bytes), fromPort: remote.port }));
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  service = await createProxyDhcpService({
    address: serverAddress,
    dhcpPort: 0,
    pxePort: 0,
    policy: () => policy,
    log,
    dhcpClientPort: client.address().port,
  });
});

after(async () => {
  await service.close();
  client.close();
});

let nextXid = 1;
/** Sends a request and waits for the service's log line about it (every decision logs exactly one line). */
async function exchange(request: TestClient, port: 'dhcp' | 'pxe' = 'dhcp'): Promise<{ replies: typeof received; logs: typeof logLines }> {
  const xid = nextXid++;
  const before = received.length;
  const bytes = encodeDhcpPacket(pxeClientRequest({ ciaddr: clientAddress, ...request, xid }));
  client.send(bytes, port === 'dhcp' ? service.dhcpPort : service.pxePort, serverAddress);
  const xidText = `0x${xid.toString(16).padStart(8, '0')}`;
  const deadline = Date.now() + 2000;
  while (!logLines.some((line) => line.xid === xidText)) {
    assert.ok(Date.now() < deadline, `no log line for xid ${xidText}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // let a reply, if any, arrive
  return { replies: received.slice(before).filter((r) => r.packet.xid === xid), logs: logLines.filter((line) => line.xid === xidText) };
}

describe('ProxyDHCP service on loopback', () => {
  it('answers a BIOS PXE DHCPDISCOVER from port 67 with siaddr, undionly.kpxe and option 43, and logs one line', async () => {
    const { replies, logs } = await exchange({ architecture: 0, mac: '52:54:00:00:00:01' });
    assert.equal(replies.length, 1);
    const [{ packet, fromPort }] = replies as [(typeof replies)[0]];
    assert.equal(fromPort, service.dhcpPort);
    assert.equal(packet.siaddr, serverAddress);
    assert.equal(packet.yiaddr, '0.0.0.0');
    assert.equal(packet.file, 'undionly.kpxe');
    assert.deepEqual([...packet.options.get(43)!], [6, 1, 8, 255]);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.level, 20, 'answers are debug lines; info gets a summary a minute (issue 14 item 8)');
    assert.equal(logs[0]!.mac, '52:54:00:00:00:01');
    assert.equal(logs[0]!.firmware, 'bios-pxe');
    assert.deepEqual(logs[0]!.offered, { type: 'DHCPOFFER', file: 'undionly.kpxe', siaddr: serverAddress });
    assert.equal(typeof logs[0]!.reason, 'string');
  });

  it('answers a UEFI DHCPREQUEST on 4011 with a DHCPACK sent from the 4011 socket', async () => {
    const { replies } = await exchange({ architecture: 7, messageType: 3 }, 'pxe');
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.fromPort, service.pxePort);
    assert.equal(replies[0]!.packet.file, 'ipxe.efi');
    assert.deepEqual([...replies[0]!.packet.options.get(53)!], [5]);
  });

  it('ignores an ordinary DHCP client and logs why at debug, with the vendor class cut to 64 characters', async () => {
    const { replies, logs } = await exchange({ vendorClass: `android-dhcp-${'x'.repeat(200)}` });
    assert.equal(replies.length, 0);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.level, 20);
    assert.deepEqual(logs[0]!.reasons, ['vendor class (option 60) starts with neither PXEClient nor HTTPClient']);
    assert.equal((logs[0]!.vendorClass as string).length, 65);
  });

  it('ignores a DHCPREQUEST meant for the router', async () => {
    const { replies, logs } = await exchange({ messageType: 3, serverIdentifier: '127.0.0.9' });
    assert.equal(replies.length, 0);
    assert.deepEqual(logs[0]!.reasons, ['DHCPREQUEST for the DHCP server 127.0.0.9']);
  });

  it('warns once, not per packet, about a missing binary, and applies the new policy at once', async () => {
    const first = await exchange({ architecture: 11 });
    const second = await exchange({ architecture: 11 });
    assert.equal(first.replies.length + second.replies.length, 0);
    assert.equal(first.logs[0]!.level, 40);
    assert.match(first.logs[0]!.msg as string, /^ProxyDHCP cannot boot arm64 UEFI clients: snp-arm64\.efi is missing from the iPXE binaries served; `bootstation doctor` says how to add it$/);
    assert.equal(second.logs[0]!.level, 20);
    policy = { ...policy, binaries: new Set([...policy.binaries, 'snp-arm64.efi']) };
    const third = await exchange({ architecture: 11 });
    assert.equal(third.replies[0]?.packet.file, 'snp-arm64.efi');
  });

  it('drops undecodable bytes with a debug line and keeps serving', async () => {
    const lines = logLines.length;
    client.send(Buffer.from('not a DHCP packet'), service.dhcpPort, serverAddress);
    const deadline = Date.now() + 2000;
    while (!logLines.slice(lines).some((line) => line.code === 'DHCP_TRUNCATED_HEADER')) {
      assert.ok(Date.now() < deadline, 'no log line for the undecodable packet');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const { replies } = await exchange({ architecture: 0 });
    assert.equal(replies.length, 1);
  });

  it('reports a port that is taken as a BindError', async () => {
    await assert.rejects(
      createProxyDhcpService({ address: serverAddress, dhcpPort: 0, pxePort: service.pxePort, policy: () => policy, log: pino({ level: 'silent' }) }),
      (error: unknown) => error instanceof BindError && error.port === service.pxePort,
    );
  });
});
