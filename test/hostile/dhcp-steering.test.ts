// Issue 14 item 9: ProxyDHCP sent its reply wherever the packet said, whoever sent it: to giaddr:67 (a loopback,
// broadcast, multicast or our own address included) or unicast to ciaddr:68 even when another host sent the
// packet. Replies to a relay now go only to an address a relay can have, and to ciaddr only when the packet
// came from it; anything else is ignored with a debug reason. Real sockets on loopback: the "client" sends from
// 127.0.0.2, the victim it names is listening on 127.0.0.3.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import type { ProxyDhcpPolicy } from '../../src/dhcp/proxy-answer.ts';
import { createProxyDhcpService, type ProxyDhcpService } from '../../src/dhcp/service.ts';
import { pxeClientRequest, type TestClient } from '../../tools/dhcp-request-builder.ts';
import { captureLog } from '../support/log-capture.ts';

const serverAddress = '127.0.0.1';
const senderAddress = '127.0.0.2';
const victimAddress = '127.0.0.3';
const policy: ProxyDhcpPolicy = {
  serverAddress,
  httpPort: 8080,
  bootScriptUrl: `http://${serverAddress}:8080/boot.ipxe`,
  binaries: new Set(['undionly.kpxe', 'ipxe.efi']),
  customBuild: false,
};

async function bound(address: string, port = 0): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(port, address);
  await once(socket, 'listening');
  return socket;
}

describe('ProxyDHCP replies cannot be steered (issue 14 item 9)', () => {
  const { log, lines } = captureLog('debug');
  let service: ProxyDhcpService;
  let sender: Socket;
  let victim: Socket;
  const receivedBy = { sender: 0, victim: 0 };
  let nextXid = 0x5000;

  before(async () => {
    sender = await bound(senderAddress);
    // Replies to clients go to the port the client socket of this test has; the victim listens on the same port.
    victim = await bound(victimAddress, sender.address().port);
    sender.on('message', () => (receivedBy.sender += 1));
    victim.on('message', () => (receivedBy.victim += 1));
    service = await createProxyDhcpService({ address: serverAddress, dhcpPort: 0, pxePort: 0, policy: () => policy, log, dhcpClientPort: sender.address().port });
  });
  after(async () => {
    await service.close();
    sender.close();
    victim.close();
  });

  /** Sends a BIOS PXE DISCOVER from 127.0.0.2 and returns the service's one log line about it. */
  async function send(request: TestClient): Promise<Record<string, unknown>> {
    const xid = nextXid++;
    const xidText = `0x${xid.toString(16).padStart(8, '0')}`;
    sender.send(encodeDhcpPacket(pxeClientRequest({ ...request, xid })), service.dhcpPort, serverAddress);
    const deadline = Date.now() + 3000;
    for (;;) {
      const line = lines.find((entry) => entry.xid === xidText);
      if (line) return line;
      assert.ok(Date.now() < deadline, `no log line for xid ${xidText}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  const hostileRelays: Array<[string, RegExp]> = [
    ['127.0.0.1', /giaddr 127\.0\.0\.1 is (loopback|our own address)/],
    ['127.0.0.9', /giaddr 127\.0\.0\.9 is loopback/],
    ['255.255.255.255', /giaddr 255\.255\.255\.255 is (the limited broadcast|reserved)/],
    ['224.0.0.1', /giaddr 224\.0\.0\.1 is multicast/],
    ['239.255.255.250', /giaddr 239\.255\.255\.250 is multicast/],
  ];
  for (const [giaddr, reason] of hostileRelays) {
    it(`does not answer a packet with giaddr ${giaddr}, and says why at debug`, async () => {
      const line = await send({ giaddr, mac: '52:54:00:00:09:01' });
      assert.equal(line.level, 20, `expected a debug "ignored" line, got ${JSON.stringify(line)}`);
      assert.equal(line.offered, undefined, 'no reply was made');
      assert.ok((line.reasons as string[]).some((text) => reason.test(text)), `reasons: ${JSON.stringify(line.reasons)}`);
    });
  }

  it('does not unicast to a ciaddr the packet did not come from (127.0.0.2 naming 127.0.0.3)', async () => {
    const line = await send({ ciaddr: victimAddress, mac: '52:54:00:00:09:02' });
    await new Promise((resolve) => setTimeout(resolve, 100)); // a reply, if one was sent, would have arrived
    assert.equal(receivedBy.victim, 0, 'the victim got a reply it never asked for');
    assert.equal(line.level, 20);
    assert.deepEqual(line.reasons, [`ciaddr ${victimAddress} is not the address the packet came from (${senderAddress})`]);
  });

  it('still unicasts to a ciaddr that is the sender, so configured clients keep working', async () => {
    const before = receivedBy.sender;
    const line = await send({ ciaddr: senderAddress, mac: '52:54:00:00:09:03' });
    assert.equal((line.offered as { file?: string } | undefined)?.file, 'undionly.kpxe');
    const deadline = Date.now() + 2000;
    while (receivedBy.sender === before) {
      assert.ok(Date.now() < deadline, 'the honest client got no reply');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
