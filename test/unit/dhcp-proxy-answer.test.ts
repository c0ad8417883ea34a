import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeDhcpPacket, DhcpDecodeError, encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { clientKindName } from '../../src/boot/platform.ts';
import { classifyClient } from '../../src/dhcp/classify.ts';
import { decideProxyDhcpAnswer, type ProxyDhcpDecision, type ProxyDhcpPolicy, type ProxyDhcpPort } from '../../src/dhcp/proxy-answer.ts';
import { pxeClientRequest, type TestClient } from '../../tools/dhcp-request-builder.ts';

const us = '10.77.0.2';
const allBinaries = new Set(['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi', 'snp-arm64.efi']);
const stock: ProxyDhcpPolicy = { serverAddress: us, httpPort: 8080, bootScriptUrl: `http://${us}:8080/boot.ipxe`, binaries: allBinaries, customBuild: false };
const custom: ProxyDhcpPolicy = { ...stock, customBuild: true };

function decide(client: TestClient, policy: ProxyDhcpPolicy = stock, receivedOn: ProxyDhcpPort = 'dhcp', source = { address: '0.0.0.0', port: 68 }): ProxyDhcpDecision {
  const packet = pxeClientRequest(client);
  return decideProxyDhcpAnswer({ packet, client: classifyClient(packet), receivedOn, source }, policy);
}

function reply(decision: ProxyDhcpDecision) {
  assert.equal(decision.action, 'reply', decision.action === 'ignore' ? `ignored: ${decision.reasons.join('; ')}` : '');
  return decision.action === 'reply' ? decision : assert.fail();
}

function ignoredBecause(decision: ProxyDhcpDecision): readonly string[] {
  assert.equal(decision.action, 'ignore');
  return decision.action === 'ignore' ? decision.reasons : [];
}

describe('decideProxyDhcpAnswer: what each firmware boots', () => {
  const table: Array<[string, TestClient, ProxyDhcpPolicy, string]> = [
    ['BIOS PXE ROM', { architecture: 0 }, stock, 'undionly.kpxe'],
    ['32-bit UEFI', { architecture: 6 }, stock, 'ipxe32.efi'],
    ['x64 UEFI (7)', { architecture: 7 }, stock, 'ipxe.efi'],
    ['x64 UEFI (9)', { architecture: 9 }, stock, 'ipxe.efi'],
    ['ARM64 UEFI', { architecture: 11 }, stock, 'snp-arm64.efi'],
    ['x64 HTTP Boot', { architecture: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' }, stock, `http://${us}:8080/ipxe/ipxe.efi`],
    ['x86 HTTP Boot', { architecture: 15, vendorClass: 'HTTPClient:Arch:00015:UNDI:003000' }, { ...stock, httpPort: 80 }, `http://${us}/ipxe/ipxe32.efi`],
    ['stock iPXE, no custom build', { architecture: 0, userClass: 'iPXE' }, stock, `http://${us}:8080/boot.ipxe`],
    ['iPXE known by option 175, no custom build', { architecture: 7, ipxeEncapsulated: true }, stock, `http://${us}:8080/boot.ipxe`],
    ['stock BIOS iPXE ROM with the custom build present', { architecture: 0, userClass: 'iPXE' }, custom, 'undionly.kpxe'],
    ['stock x64 iPXE with the custom build present', { architecture: 7, userClass: 'iPXE', ipxeEncapsulated: true }, custom, 'ipxe.efi'],
    ["bootstation's own iPXE (no loop)", { architecture: 7, userClass: 'bootstation', ipxeEncapsulated: true }, custom, `http://${us}:8080/boot.ipxe`],
    ['stock iPXE when the custom build lacks its binary', { architecture: 6, userClass: 'iPXE' }, { ...custom, binaries: new Set(['ipxe.efi']) }, `http://${us}:8080/boot.ipxe`],
  ];
  for (const [what, client, policy, file] of table) {
    it(`${what} → ${file}`, () => assert.equal(reply(decide(client, policy)).reply.file, file));
  }

  it('never chains a client twice: whatever it gets, the next stage it boots is answered with the script', () => {
    for (const architecture of [0, 6, 7, 9, 11]) {
      const first = reply(decide({ architecture }, custom)).bootFile;
      assert.doesNotMatch(first, /^http/);
      const second = reply(decide({ architecture, userClass: 'bootstation', ipxeEncapsulated: true }, custom)).bootFile;
      assert.equal(second, custom.bootScriptUrl, `arch ${architecture}`);
    }
  });
});

describe('decideProxyDhcpAnswer: the reply packet', () => {
  it('answers a BIOS DHCPDISCOVER with a DHCPOFFER carrying siaddr, option 43 and no address', () => {
    const { reply: offer, destination } = reply(decide({ architecture: 0, xid: 0xabcdef01, flags: 0x8000 }));
    assert.equal(offer.op, 2);
    assert.equal(offer.xid, 0xabcdef01);
    assert.equal(offer.yiaddr, '0.0.0.0');
    assert.equal(offer.siaddr, us);
    assert.equal(offer.flags, 0x8000);
    assert.deepEqual([...offer.options.keys()], [53, 54, 60, 97, 43]);
    assert.deepEqual([...offer.options.get(53)!], [2]);
    assert.deepEqual([...offer.options.get(54)!], [10, 77, 0, 2]);
    assert.equal(Buffer.from(offer.options.get(60)!).toString(), 'PXEClient');
    assert.deepEqual([...offer.options.get(43)!], [6, 1, 8, 255]);
    assert.deepEqual(destination, { address: '255.255.255.255', port: 68 });
  });

  it('offers UEFI firmware no option 43, so it asks on 4011, and answers that DHCPREQUEST with a DHCPACK back to the sender', () => {
    assert.equal(reply(decide({ architecture: 7 })).reply.options.has(43), false);
    const ack = reply(decide({ architecture: 7, messageType: 3, ciaddr: '10.77.0.112' }, stock, 'pxe', { address: '10.77.0.112', port: 4011 }));
    assert.deepEqual([...ack.reply.options.get(53)!], [5]);
    assert.deepEqual([...ack.reply.options.keys()], [53, 54, 60, 97]);
    assert.equal(ack.reply.ciaddr, '10.77.0.112');
    assert.deepEqual(ack.destination, { address: '10.77.0.112', port: 4011 });
  });

  it('echoes HTTPClient to UEFI HTTP Boot clients and siaddr even though the file is a URL', () => {
    const { reply: offer } = reply(decide({ architecture: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' }));
    assert.equal(Buffer.from(offer.options.get(60)!).toString(), 'HTTPClient');
    assert.equal(offer.siaddr, us);
    assert.equal(offer.options.has(43), false);
  });

  it('omits option 97 when the client did not send it', () => {
    assert.equal(reply(decide({ machineIdentifier: null })).reply.options.has(97), false);
  });

  it('sends to the relay (giaddr:67) or to ciaddr when the request says so (RFC 2131 §4.1)', () => {
    assert.deepEqual(reply(decide({ giaddr: '10.77.5.1' })).destination, { address: '10.77.5.1', port: 67 });
    assert.deepEqual(reply(decide({ ciaddr: '10.77.0.50' }, stock, 'dhcp', { address: '10.77.0.50', port: 68 })).destination, { address: '10.77.0.50', port: 68 });
  });

  it('answers a relay that forwards from an address other than its giaddr (RFC 2131 §4.1 allows it)', () => {
    assert.deepEqual(reply(decide({ giaddr: '10.77.5.1' }, stock, 'dhcp', { address: '192.168.9.1', port: 67 })).destination, { address: '10.77.5.1', port: 67 });
  });
});

describe('decideProxyDhcpAnswer: arm64 and UEFI HTTP Boot (issue 16)', () => {
  // As measured: EDK2 arm64 PXE, OVMF/AAVMF HTTP Boot, and iPXE for arm64 (ours and another's).
  const zeroGuid = Uint8Array.of(0, ...new Array<number>(16).fill(0));
  const edk2Arm64: TestClient = { architecture: 11, vendorClass: 'PXEClient:Arch:00011:UNDI:003000', networkInterface: Uint8Array.of(1, 3, 0), machineIdentifier: zeroGuid };
  const arm64HttpBoot: TestClient = { ...edk2Arm64, architecture: 19, vendorClass: 'HTTPClient:Arch:00019:UNDI:003000' };
  const x64HttpBoot: TestClient = { ...edk2Arm64, architecture: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' };
  const foreignArm64Ipxe: TestClient = { architecture: 11, vendorClass: 'PXEClient:Arch:00011:UNDI:003010', userClass: 'iPXE', ipxeEncapsulated: true };
  const ourArm64Ipxe: TestClient = { architecture: 11, vendorClass: 'PXEClient', userClass: 'bootstation', ipxeEncapsulated: true };
  const client = { address: '10.77.0.112', port: 4011 };

  it('EDK2 arm64 PXE (93 = 11): an offer of snp-arm64.efi on 67 without option 43, then a DHCPACK of it on 4011', () => {
    for (const policy of [stock, custom]) {
      const offer = reply(decide(edk2Arm64, policy));
      assert.equal(offer.reply.file, 'snp-arm64.efi');
      assert.deepEqual([...offer.reply.options.keys()], [53, 54, 60, 97], 'no option 43, so the firmware asks on 4011');
      assert.equal(Buffer.from(offer.reply.options.get(60)!).toString(), 'PXEClient');
      assert.deepEqual([...offer.reply.options.get(97)!], [...zeroGuid], 'option 97 echoed');
      assert.equal(offer.reply.siaddr, us);
      assert.deepEqual(offer.destination, { address: '255.255.255.255', port: 68 });
      const ack = reply(decide({ ...edk2Arm64, messageType: 3, ciaddr: client.address }, policy, 'pxe', client));
      assert.deepEqual([...ack.reply.options.get(53)!], [5]);
      assert.equal(ack.reply.file, 'snp-arm64.efi');
      assert.equal(ack.reply.siaddr, us, 'the TFTP server');
      assert.deepEqual(ack.destination, client);
    }
  });

  it('arm64 HTTP Boot (93 = 19) gets /ipxe/snp-arm64.efi as a URL, with option 60 HTTPClient', () => {
    const offer = reply(decide(arm64HttpBoot));
    assert.equal(offer.reply.file, `http://${us}:8080/ipxe/snp-arm64.efi`);
    assert.equal(Buffer.from(offer.reply.options.get(60)!).toString(), 'HTTPClient');
    assert.equal(offer.reply.yiaddr, '0.0.0.0');
    assert.equal(offer.reply.options.has(43), false);
    assert.equal(reply(decide(arm64HttpBoot, { ...stock, httpPort: 80 })).reply.file, `http://${us}/ipxe/snp-arm64.efi`);
  });

  it('x64 HTTP Boot (93 = 16) gets /ipxe/ipxe.efi, without a port on port 80 (the offer OVMF was measured to accept)', () => {
    const offer = reply(decide(x64HttpBoot, { ...custom, httpPort: 80 }));
    assert.equal(offer.reply.file, `http://${us}/ipxe/ipxe.efi`);
    assert.equal(Buffer.from(offer.reply.options.get(60)!).toString(), 'HTTPClient');
  });

  it("another arm64 iPXE (user class iPXE) is chainloaded to bootstation's snp-arm64.efi, and gets the script without it", () => {
    assert.equal(reply(decide(foreignArm64Ipxe, custom)).reply.file, 'snp-arm64.efi');
    assert.equal(reply(decide(foreignArm64Ipxe, { ...custom, binaries: new Set(['ipxe.efi']) })).reply.file, custom.bootScriptUrl);
    assert.equal(reply(decide(foreignArm64Ipxe, stock)).reply.file, stock.bootScriptUrl, 'no build of ours to chain to');
  });

  it("bootstation's own arm64 iPXE (user class bootstation, option 60 PXEClient) gets /boot.ipxe, on 67 and on 4011", () => {
    assert.equal(reply(decide(ourArm64Ipxe, custom)).reply.file, custom.bootScriptUrl);
    assert.equal(reply(decide({ ...ourArm64Ipxe, messageType: 3, ciaddr: client.address }, custom, 'pxe', client)).reply.file, custom.bootScriptUrl);
  });

  it('classifies each of them with its platform row and transport', () => {
    const kinds = [edk2Arm64, arm64HttpBoot, x64HttpBoot, foreignArm64Ipxe, ourArm64Ipxe].map((each) => {
      const classified = classifyClient(pxeClientRequest(each));
      return classified.netboot ? classified.kind : classified.reasons.join('; ');
    });
    assert.deepEqual(kinds, ['efi-arm64-pxe', 'efi-arm64-http', 'efi-x64-http', 'efi-arm64-ipxe', 'efi-arm64-ipxe']);
    assert.deepEqual(kinds.map(clientKindName), ['arm64 UEFI, PXE', 'arm64 UEFI, HTTP Boot', 'x64 UEFI, HTTP Boot', 'arm64 UEFI, iPXE', 'arm64 UEFI, iPXE']);
  });

  it('ignores a vendor class that contradicts option 93 (PXEClient with 19, HTTPClient with 11)', () => {
    assert.deepEqual(ignoredBecause(decide({ ...arm64HttpBoot, vendorClass: 'PXEClient:Arch:00019:UNDI:003000' })), ['vendor class PXEClient does not match ARM 64-bit UEFI HTTP']);
    assert.deepEqual(ignoredBecause(decide({ ...edk2Arm64, vendorClass: 'HTTPClient:Arch:00011:UNDI:003000' })), ['vendor class HTTPClient does not match ARM 64-bit UEFI']);
  });

  it('names the arm64 binary an HTTP Boot client lacks', () => {
    const decision = decide(arm64HttpBoot, { ...stock, binaries: new Set(['ipxe.efi', 'undionly.kpxe']) });
    assert.deepEqual(decision.action === 'ignore' && decision.missingBinary, { firmware: 'efi-arm64', file: 'snp-arm64.efi' });
  });
});

describe('decideProxyDhcpAnswer: where a reply may not be steered (issue 14 item 9)', () => {
  const relayFrom = { address: '10.77.5.1', port: 67 };
  it('ignores a giaddr that is loopback, multicast, broadcast, reserved, "this network" or our own address', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', 'giaddr 127.0.0.1 is loopback, which no relay can have'],
      ['224.0.0.9', 'giaddr 224.0.0.9 is multicast, which no relay can have'],
      ['239.1.2.3', 'giaddr 239.1.2.3 is multicast, which no relay can have'],
      ['255.255.255.255', 'giaddr 255.255.255.255 is the limited broadcast, which no relay can have'],
      ['240.0.0.1', 'giaddr 240.0.0.1 is reserved (240.0.0.0/4), which no relay can have'],
      ['0.1.2.3', 'giaddr 0.1.2.3 is "this network" (0.0.0.0/8), which no relay can have'],
      [us, `giaddr ${us} is our own address`],
    ];
    for (const [giaddr, reason] of cases) assert.deepEqual(ignoredBecause(decide({ giaddr }, stock, 'dhcp', relayFrom)), [reason], giaddr);
  });

  it('answers only the relays of server.dhcp_relays when that list is set', () => {
    const listed: ProxyDhcpPolicy = { ...stock, relays: new Set(['10.77.5.1']) };
    assert.deepEqual(reply(decide({ giaddr: '10.77.5.1' }, listed, 'dhcp', relayFrom)).destination, { address: '10.77.5.1', port: 67 });
    assert.deepEqual(ignoredBecause(decide({ giaddr: '10.77.6.1' }, listed, 'dhcp', relayFrom)), ['giaddr 10.77.6.1 is not among server.dhcp_relays']);
    assert.deepEqual(ignoredBecause(decide({ giaddr: '10.77.6.1' }, { ...stock, relays: new Set() }, 'dhcp', relayFrom)), ['giaddr 10.77.6.1 is not among server.dhcp_relays']);
    assert.equal(decide({}, listed).action, 'reply', 'packets without a relay are not affected by the list');
  });

  it('unicasts to ciaddr only when the packet came from it, and otherwise ignores it', () => {
    assert.deepEqual(ignoredBecause(decide({ ciaddr: '10.77.0.50' }, stock, 'dhcp', { address: '10.77.0.66', port: 68 })), [
      'ciaddr 10.77.0.50 is not the address the packet came from (10.77.0.66)',
    ]);
    assert.deepEqual(ignoredBecause(decide({ ciaddr: '10.77.0.50' })), ['ciaddr 10.77.0.50 is not the address the packet came from (0.0.0.0)']);
  });

  it('answers port 4011 at the sender whatever giaddr and ciaddr say', () => {
    const source = { address: '10.77.0.50', port: 4011 };
    assert.deepEqual(reply(decide({ messageType: 3, architecture: 7, giaddr: '127.0.0.1', ciaddr: '10.77.0.99' }, stock, 'pxe', source)).destination, source);
  });
});

describe('decideProxyDhcpAnswer: what it never answers', () => {
  it('ignores DHCPREQUESTs on port 67 meant for the router, or without a server identifier', () => {
    assert.deepEqual(ignoredBecause(decide({ messageType: 3, serverIdentifier: '10.77.0.1' })), ['DHCPREQUEST for the DHCP server 10.77.0.1']);
    assert.match(ignoredBecause(decide({ messageType: 3 }))[0]!, /without server identifier/);
  });

  it('acknowledges a port-67 DHCPREQUEST that names us (a client that took our offer)', () => {
    assert.deepEqual([...reply(decide({ messageType: 3, serverIdentifier: us })).reply.options.get(53)!], [5]);
  });

  it('ignores DHCPDISCOVER on 4011 and 4011 requests that name another server', () => {
    assert.match(ignoredBecause(decide({}, stock, 'pxe', { address: '10.77.0.9', port: 68 }))[0]!, /on port 4011/);
    assert.match(ignoredBecause(decide({ messageType: 3, serverIdentifier: '10.77.0.3' }, stock, 'pxe', { address: '10.77.0.9', port: 68 }))[0]!, /names server 10\.77\.0\.3/);
  });

  it('ignores our own packets', () => {
    assert.deepEqual(ignoredBecause(decide({}, stock, 'dhcp', { address: us, port: 67 })), ['our own packet']);
  });

  it('passes on the reasons a packet is not a netboot client', () => {
    assert.deepEqual(ignoredBecause(decide({ vendorClass: 'MSFT 5.0' })), ['vendor class (option 60) starts with neither PXEClient nor HTTPClient']);
  });

  it('refuses a missing first-stage binary and names the firmware and file', () => {
    const decision = decide({ architecture: 11 }, { ...stock, binaries: new Set(['ipxe.efi']) });
    assert.equal(decision.action, 'ignore');
    assert.deepEqual(decision.action === 'ignore' && decision.missingBinary, { firmware: 'efi-arm64', file: 'snp-arm64.efi' });
    const http = decide({ architecture: 16, vendorClass: 'HTTPClient' }, { ...stock, binaries: new Set() });
    assert.deepEqual(http.action === 'ignore' && http.missingBinary, { firmware: 'efi-x64', file: 'ipxe.efi' });
  });

  it('refuses a boot script URL that does not fit the file field', () => {
    const decision = decide({ userClass: 'iPXE' }, { ...stock, bootScriptUrl: `http://${us}/${'a'.repeat(130)}` });
    assert.match(ignoredBecause(decision)[0]!, /does not fit the 127-byte/);
  });
});

describe('classifyClient and decideProxyDhcpAnswer on arbitrary packets', () => {
  it('never throw for any decodable packet, and never offer an address (property)', () => {
    // Start from a real PXE request and let fast-check replace or add options, so that most runs get past the decoder.
    const base = encodeDhcpPacket(pxeClientRequest());
    const option = fc.tuple(fc.constantFrom(53, 54, 60, 77, 93, 94, 97, 175, 43, 52, 255, 0), fc.uint8Array({ maxLength: 40 }));
    const mutated = fc.tuple(fc.array(option, { maxLength: 8 }), fc.oneof(fc.constant(1), fc.nat(0xff)), fc.boolean()).map(([options, op, keepBase]) => {
      const extra = options.flatMap(([code, value]) => [code, value.length, ...value]);
      const head = base.subarray(0, keepBase ? base.indexOf(255, 240) : 240);
      const bytes = Uint8Array.from([...head, ...extra, 255]);
      bytes[0] = op;
      return bytes;
    });
    fc.assert(
      fc.property(mutated, fc.constantFrom<ProxyDhcpPort>('dhcp', 'pxe'), (bytes, receivedOn) => {
        let packet;
        try {
          packet = decodeDhcpPacket(bytes);
        } catch (error) {
          if (error instanceof DhcpDecodeError) return;
          throw error;
        }
        const decision = decideProxyDhcpAnswer({ packet, client: classifyClient(packet), receivedOn, source: { address: '10.77.0.50', port: 68 } }, stock);
        if (decision.action === 'reply') {
          assert.equal(decision.reply.yiaddr, '0.0.0.0');
          assert.equal(decision.reply.siaddr, us);
          encodeDhcpPacket(decision.reply);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('classifies a 60 000-byte vendor class (RFC 3396 concatenation) without failing', () => {
    const packet = pxeClientRequest();
    (packet.options as Map<number, Uint8Array>).set(60, new Uint8Array(60_000).fill(0x41));
    const decoded = decodeDhcpPacket(encodeDhcpPacket(packet));
    assert.equal(classifyClient(decoded).vendorClass?.length, 60_000);
  });
});
