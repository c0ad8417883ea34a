// Golden tests: real client packets from QEMU captures go through decode → classify → answer → encode → decode,
// and the reply must match the committed JSON in test/fixtures/dhcp/. Regenerate with `UPDATE_GOLDEN=1 npm test`.
// The uefi-arm64-* and uefi-x64-http-* captures (issue 16) are QEMU's filter-dump of a tap on a bridge with
// dnsmasq 2.90 as the router (10.77.0.1) and `bootstation serve` (10.77.0.2): AAVMF 2022.11 on qemu-system-aarch64
// (virt, cortex-a57) and OVMF 2022.11 on qemu-system-x86_64 (q35), HTTP Boot with
// -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n; trimmed to the DHCP, port 4011 and TFTP request frames.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertGolden } from '../support/golden.ts';
import { describe, it } from 'node:test';
import { classifyClient, type ClientClassification } from '../../src/dhcp/classify.ts';
import { decodeDhcpPacket, encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { describeDhcpPacket } from '../../src/dhcp/describe.ts';
import { decideProxyDhcpAnswer, type ProxyDhcpDecision, type ProxyDhcpPolicy } from '../../src/dhcp/proxy-answer.ts';
import { readPcapUdp, type CapturedDatagram } from '../support/pcap.ts';

const fixtures = new URL('../fixtures/dhcp/', import.meta.url);
const proxyAddress = '10.77.0.2'; // the ProxyDHCP server's address in both captures
const allBinaries = new Set(['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi', 'snp-arm64.efi']);
const policies: Record<string, ProxyDhcpPolicy> = {
  stock: { serverAddress: proxyAddress, httpPort: 8080, bootScriptUrl: 'http://10.77.0.2:8080/boot.ipxe', binaries: allBinaries, customBuild: false },
  custom: { serverAddress: proxyAddress, httpPort: 8080, bootScriptUrl: 'http://10.77.0.2:8080/boot.ipxe', binaries: allBinaries, customBuild: true },
};

function capture(name: string): CapturedDatagram[] {
  return readPcapUdp(readFileSync(new URL(name, fixtures)));
}

/** Client requests: frames from the QEMU NIC (52:54:00:…) to the DHCP or PXE port. */
function clientRequests(datagrams: CapturedDatagram[]): CapturedDatagram[] {
  return datagrams.filter((d) => d.sourceMac.startsWith('52:54:00:') && (d.destinationPort === 67 || d.destinationPort === 4011));
}

function decide(datagram: CapturedDatagram, policy: ProxyDhcpPolicy): { client: ClientClassification; decision: ProxyDhcpDecision } {
  const packet = decodeDhcpPacket(datagram.payload);
  const client = classifyClient(packet);
  const decision = decideProxyDhcpAnswer(
    {
      packet,
      client,
      receivedOn: datagram.destinationPort === 4011 ? 'pxe' : 'dhcp',
      source: { address: datagram.sourceAddress, port: datagram.sourcePort },
    },
    policy,
  );
  return { client, decision };
}

function decisionJson(decision: ProxyDhcpDecision): unknown {
  if (decision.action === 'ignore') return decision;
  return {
    action: 'reply',
    destination: `${decision.destination.address}:${decision.destination.port}`,
    why: decision.why,
    // Through the wire format and back, so the golden file shows what the client really receives.
    reply: describeDhcpPacket(decodeDhcpPacket(encodeDhcpPacket(decision.reply))),
  };
}

function classificationJson(client: ClientClassification): unknown {
  if (!client.netboot) return client;
  const { machineIdentifier, ...rest } = client;
  return { ...rest, machineIdentifier: machineIdentifier === undefined ? undefined : Buffer.from(machineIdentifier).toString('hex') };
}

function goldenFor(pcapName: string): unknown {
  return clientRequests(capture(pcapName)).map((datagram) => {
    const { client } = decide(datagram, policies.stock!);
    return {
      frame: datagram.frame,
      from: `${datagram.sourceAddress}:${datagram.sourcePort}`,
      to: `${datagram.destinationAddress}:${datagram.destinationPort}`,
      request: describeDhcpPacket(decodeDhcpPacket(datagram.payload)),
      classification: classificationJson(client),
      answers: Object.fromEntries(Object.entries(policies).map(([name, policy]) => [name, decisionJson(decide(datagram, policy).decision)])),
    };
  });
}

function assertRepliesGolden(pcapName: string): void {
  assertGolden(`dhcp/${pcapName.replace(/\.pcap$/, '.golden.json')}`, `${JSON.stringify(goldenFor(pcapName), null, 2)}\n`);
}

const biosPcap = 'bios-ipxe-rom-vs-dnsmasq-proxy-no-siaddr.pcap';
const uefiPcap = 'uefi-x64-edk2-pxe-then-ipxe.pcap';
const arm64PxePcap = 'uefi-arm64-edk2-pxe.pcap';
const arm64HttpPcap = 'uefi-arm64-http-boot.pcap';
const x64HttpPcap = 'uefi-x64-http-boot-then-ipxe.pcap';

/** What bootstation really sent in a capture: its replies from the ProxyDHCP and PXE ports. */
function capturedReplies(pcapName: string): CapturedDatagram[] {
  return capture(pcapName).filter((d) => d.sourceAddress === proxyAddress && (d.sourcePort === 67 || d.sourcePort === 4011));
}

describe('golden replies to captured clients', () => {
  it('BIOS iPXE ROM capture matches its golden file', () => assertRepliesGolden(biosPcap));
  it('EDK2 UEFI x64 then iPXE capture matches its golden file', () => assertRepliesGolden(uefiPcap));
  it('EDK2 arm64 PXE capture matches its golden file', () => assertRepliesGolden(arm64PxePcap));
  it('arm64 UEFI HTTP Boot capture matches its golden file', () => assertRepliesGolden(arm64HttpPcap));
  it('x64 UEFI HTTP Boot then stock iPXE capture matches its golden file', () => assertRepliesGolden(x64HttpPcap));

  it('the captured dnsmasq offer lacks siaddr, which is why the iPXE ROM kept asking on 4011', () => {
    const dnsmasqOffer = capture(biosPcap).find((d) => d.sourceAddress === proxyAddress && d.sourcePort === 67);
    assert.ok(dnsmasqOffer, 'capture has a ProxyDHCP offer from dnsmasq');
    const offer = decodeDhcpPacket(dnsmasqOffer.payload);
    assert.equal(offer.siaddr, '0.0.0.0');
    assert.equal(offer.file, 'http://10.77.0.2/boot.ipxe');
    const retries = clientRequests(capture(biosPcap)).filter((d) => d.destinationPort === 4011);
    assert.ok(retries.length >= 3, `the ROM retried on 4011 ${retries.length} times`);
  });

  it('the BIOS iPXE ROM gets siaddr, the boot script and option 43 on its DHCPDISCOVER', () => {
    const discover = clientRequests(capture(biosPcap))[0]!;
    const { client, decision } = decide(discover, policies.stock!);
    assert.equal(client.netboot && client.kind, 'bios-ipxe');
    assert.equal(decision.action, 'reply');
    assert.equal(decision.reply.siaddr, proxyAddress);
    assert.equal(decision.reply.yiaddr, '0.0.0.0');
    assert.equal(decision.reply.file, 'http://10.77.0.2:8080/boot.ipxe');
    assert.deepEqual([...decision.reply.options.get(43)!], [6, 1, 8, 255]);
    assert.deepEqual(decision.destination, { address: '255.255.255.255', port: 68 });
  });

  it("the BIOS iPXE ROM gets bootstation's undionly.kpxe first when the custom build is present", () => {
    const discover = clientRequests(capture(biosPcap))[0]!;
    const { decision } = decide(discover, policies.custom!);
    assert.equal(decision.action === 'reply' && decision.reply.file, 'undionly.kpxe');
  });

  it("the BIOS ROM's DHCPREQUEST for the router's lease is ignored", () => {
    const request = clientRequests(capture(biosPcap))[1]!;
    assert.equal(request.destinationPort, 67);
    const { decision } = decide(request, policies.stock!);
    assert.equal(decision.action, 'ignore');
  });

  it('EDK2 gets an offer without option 43, then a DHCPACK on 4011 sent back to its port 4011', () => {
    const [discover, routerRequest, bootServerRequest, ipxeDiscover, ipxeRouterRequest] = clientRequests(capture(uefiPcap));
    const offer = decide(discover!, policies.stock!).decision;
    assert.equal(offer.action, 'reply');
    assert.equal(offer.reply.options.has(43), false, 'UEFI offer must not carry option 43');
    assert.equal(offer.reply.siaddr, proxyAddress);
    assert.equal(decide(routerRequest!, policies.stock!).decision.action, 'ignore');

    const ack = decide(bootServerRequest!, policies.stock!).decision;
    assert.equal(ack.action, 'reply');
    assert.equal(ack.reply.options.get(53)?.[0], 5, 'DHCPACK');
    assert.equal(ack.reply.file, 'ipxe.efi');
    assert.equal(ack.reply.siaddr, proxyAddress);
    assert.deepEqual([...ack.reply.options.keys()], [53, 54, 60, 97]);
    assert.deepEqual(ack.destination, { address: '10.77.0.112', port: 4011 });

    const ipxeOffer = decide(ipxeDiscover!, policies.stock!).decision;
    assert.equal(ipxeOffer.action === 'reply' && ipxeOffer.reply.file, 'http://10.77.0.2:8080/boot.ipxe');
    assert.equal(decide(ipxeRouterRequest!, policies.stock!).decision.action, 'ignore');
  });

  it('EDK2 arm64 (93 = 11) gets snp-arm64.efi on 67 and on 4011, exactly the replies it accepted before fetching it over TFTP', () => {
    const requests = clientRequests(capture(arm64PxePcap));
    const discover = requests[0];
    const bootServerRequest = requests.find((d) => d.destinationPort === 4011);
    const offer = decide(discover!, policies.stock!).decision;
    assert.equal(offer.action === 'reply' && offer.reply.file, 'snp-arm64.efi');
    assert.equal(offer.action === 'reply' && offer.reply.options.has(43), false);
    assert.ok(bootServerRequest, 'the firmware asked again on port 4011');
    const ack = decide(bootServerRequest!, policies.stock!).decision;
    assert.equal(ack.action === 'reply' && ack.reply.file, 'snp-arm64.efi');
    assert.deepEqual(ack.action === 'reply' && ack.destination, { address: bootServerRequest!.sourceAddress, port: 4011 });
    // The firmware took these very bytes: its next packets are TFTP read requests for the file they named.
    assert.deepEqual(capturedReplies(arm64PxePcap).map((d) => d.payload), [offer, ack].map((decision) => decision.action === 'reply' && Buffer.from(encodeDhcpPacket(decision.reply))));
    const tftpReads = capture(arm64PxePcap).filter((d) => d.destinationPort === 69);
    assert.ok(tftpReads.some((d) => Buffer.from(d.payload).includes('snp-arm64.efi')), 'a TFTP read request for snp-arm64.efi');
  });

  it('arm64 HTTP Boot (93 = 19) and x64 HTTP Boot (93 = 16) get their binary as an /ipxe/ URL with option 60 HTTPClient', () => {
    for (const [pcapName, url] of [[arm64HttpPcap, 'http://10.77.0.2:8080/ipxe/snp-arm64.efi'], [x64HttpPcap, 'http://10.77.0.2:8080/ipxe/ipxe.efi']] as const) {
      const discover = clientRequests(capture(pcapName))[0]!;
      const { client, decision } = decide(discover, policies.stock!);
      assert.equal(client.netboot && client.transport, 'http', pcapName);
      assert.equal(decision.action === 'reply' && decision.reply.file, url, pcapName);
      assert.equal(decision.action === 'reply' && Buffer.from(decision.reply.options.get(60)!).toString(), 'HTTPClient', pcapName);
      // Captured with http_port 80: the firmware accepted the URL without a port and fetched it (HEAD, then GET).
      assert.equal(decodeDhcpPacket(capturedReplies(pcapName)[0]!.payload).file, url.replace(':8080', ''), pcapName);
    }
  });

  it("the stock x64 iPXE that HTTP Boot started is chainloaded to bootstation's build, or gets the script without one", () => {
    const ipxeDiscover = clientRequests(capture(x64HttpPcap)).find((d) => decodeDhcpPacket(d.payload).options.get(77) !== undefined);
    assert.ok(ipxeDiscover, 'the capture holds the DHCPDISCOVER of the iPXE that HTTP Boot started');
    const fileFor = (policy: ProxyDhcpPolicy): string | undefined => {
      const { decision } = decide(ipxeDiscover, policy);
      return decision.action === 'reply' ? decision.reply.file : undefined;
    };
    assert.equal(fileFor(policies.custom!), 'ipxe.efi');
    assert.equal(fileFor(policies.stock!), 'http://10.77.0.2:8080/boot.ipxe');
  });
});
