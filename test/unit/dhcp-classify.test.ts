import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyClient, type ClientClassification, type NetbootClient } from '../../src/dhcp/classify.ts';
import { pxeClientRequest, type TestClient } from '../../tools/dhcp-request-builder.ts';

function netboot(client: TestClient): NetbootClient {
  const classification = classifyClient(pxeClientRequest(client));
  assert.ok(classification.netboot, `expected a netboot client, got reasons: ${classification.netboot ? '' : classification.reasons.join('; ')}`);
  return classification;
}

function reasons(classification: ClientClassification): readonly string[] {
  assert.equal(classification.netboot, false, 'expected the packet to be ignored');
  return classification.netboot ? [] : classification.reasons;
}

describe('classifyClient', () => {
  const kinds: Array<[string, TestClient, string]> = [
    ['BIOS PXE ROM (arch 0)', { architecture: 0 }, 'bios-pxe'],
    ['BIOS iPXE ROM (user class iPXE)', { architecture: 0, userClass: 'iPXE' }, 'bios-ipxe'],
    ['iPXE recognised by option 175 alone', { architecture: 0, ipxeEncapsulated: true }, 'bios-ipxe'],
    ["bootstation's own iPXE build", { architecture: 7, userClass: 'bootstation', ipxeEncapsulated: true }, 'efi-x64-ipxe'],
    ['32-bit UEFI (arch 6)', { architecture: 6 }, 'efi-ia32-pxe'],
    ['x64 UEFI (arch 7)', { architecture: 7 }, 'efi-x64-pxe'],
    ['x64 UEFI that sends arch 9', { architecture: 9 }, 'efi-x64-pxe'],
    ['ARM64 UEFI (arch 11)', { architecture: 11 }, 'efi-arm64-pxe'],
    ['x86 UEFI HTTP Boot (arch 15)', { architecture: 15, vendorClass: 'HTTPClient:Arch:00015:UNDI:003000' }, 'efi-ia32-http'],
    ['x64 UEFI HTTP Boot (arch 16)', { architecture: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' }, 'efi-x64-http'],
  ];
  for (const [what, client, kind] of kinds) {
    it(`classifies a ${what} as ${kind}`, () => assert.equal(netboot(client).kind, kind));
  }

  it('takes the architecture from option 60 when option 93 is missing', () => {
    const client = netboot({ architecture: null, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
    assert.equal(client.architecture, 7);
    assert.equal(client.firmware, 'efi-x64');
  });

  it('keeps option 97 to echo and tolerates its absence', () => {
    assert.equal(netboot({}).machineIdentifier?.length, 17);
    assert.equal(netboot({ machineIdentifier: null }).machineIdentifier, undefined);
  });

  it('reads option 54 so requests meant for the router can be told apart', () => {
    assert.equal(netboot({ messageType: 3, serverIdentifier: '10.77.0.1' }).serverIdentifier, '10.77.0.1');
  });

  it('ignores an ordinary DHCP client, naming the missing vendor class', () => {
    assert.deepEqual(reasons(classifyClient(pxeClientRequest({ vendorClass: null, architecture: null }))), [
      'no client architecture (option 93, nor Arch in option 60)',
      'no vendor class (option 60)',
    ]);
  });

  it('ignores a vendor class that is not PXEClient or HTTPClient (e.g. a Windows client)', () => {
    assert.deepEqual(reasons(classifyClient(pxeClientRequest({ vendorClass: 'MSFT 5.0' }))), [
      'vendor class (option 60) starts with neither PXEClient nor HTTPClient',
    ]);
  });

  it('lists every reason at once, like smee', () => {
    const packet = pxeClientRequest({ messageType: 8, architecture: 2, machineIdentifier: Uint8Array.of(1, 2) });
    packet.op = 2;
    assert.deepEqual(reasons(classifyClient(packet)), [
      'op 2 is not a BOOTREQUEST',
      'DHCPINFORM is neither DHCPDISCOVER nor DHCPREQUEST',
      'EFI Itanium (option 93 = 2) has no first-stage iPXE binary',
      'malformed option 97 (client machine identifier must be type 0 and a 16-byte GUID)',
    ]);
  });

  it('ignores HTTPClient with a PXE architecture and a malformed option 93 or 94', () => {
    assert.match(reasons(classifyClient(pxeClientRequest({ architecture: 7, vendorClass: 'HTTPClient' })))[0]!, /does not match x64 UEFI/);
    const badArch = pxeClientRequest();
    (badArch.options as Map<number, Uint8Array>).set(93, Uint8Array.of(0));
    assert.match(reasons(classifyClient(badArch)).join(), /malformed option 93/);
    const badNdi = pxeClientRequest();
    (badNdi.options as Map<number, Uint8Array>).set(94, Uint8Array.of(1, 2));
    assert.match(reasons(classifyClient(badNdi)).join(), /malformed option 94/);
  });

  it('summarises even an ignored packet for the log line', () => {
    const ignored = classifyClient(pxeClientRequest({ vendorClass: 'MSFT 5.0', mac: '00:11:22:33:44:55', xid: 42 }));
    assert.equal(ignored.mac, '00:11:22:33:44:55');
    assert.equal(ignored.xid, 42);
    assert.equal(ignored.vendorClass, 'MSFT 5.0');
    assert.equal(ignored.messageType, 'DHCPDISCOVER');
  });
});
