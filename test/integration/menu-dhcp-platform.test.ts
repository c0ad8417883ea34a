// The appliance as `bootstation serve` wires it: a 32-bit UEFI client that ProxyDHCP answered (option 93 = 6) and whose
// iPXE does not report ${buildarch} gets a menu without the x86_64-only image, judged from the kernel files' headers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAppliance, type Appliance } from '../../src/appliance/server.ts';
import { decodeDhcpPacket, encodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { captureLog } from '../support/log-capture.ts';
import { udpExchange } from '../support/udp-exchange.ts';

const dir = await mkdtemp(join(tmpdir(), 'bootstation-menu-arch-'));
const IA32_MAC = '52:54:00:00:00:32';
const OTHER_MAC = '52:54:00:00:00:99';
let appliance: Appliance;

// A bzImage setup header ("HdrS" at 0x202, protocol 2.15, xloadflags at 0x236) with a PE header of the given machine.
function kernel(machine: number, xloadflags: number): Buffer {
  const bytes = Buffer.alloc(0x1000);
  bytes.write('MZ', 0, 'latin1');
  bytes.writeUInt32LE(0x80, 0x3c);
  bytes.write('PE\0\0', 0x80, 'latin1');
  bytes.writeUInt16LE(machine, 0x84);
  bytes.write('HdrS', 0x202, 'latin1');
  bytes.writeUInt16LE(0x020f, 0x206);
  bytes.writeUInt16LE(xloadflags, 0x236);
  return bytes;
}

before(async () => {
  await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
  await writeFile(join(dir, 'data', 'ipxe', 'ipxe32.efi'), Buffer.alloc(1000, 3));
  await mkdir(join(dir, 'kernels'));
  await writeFile(join(dir, 'kernels', 'amd64'), kernel(0x8664, 0b1101));
  await writeFile(join(dir, 'kernels', 'i686'), kernel(0x014c, 0b0100));
  const configPath = join(dir, 'images.yaml');
  await writeFile(
    configPath,
    `images:
  - id: both
    source: {dir: ${join(dir, 'kernels')}}
    boot: [{kernel: amd64}, {kernel: i686}]
  - id: x64only
    source: {dir: ${join(dir, 'kernels')}}
    boot: {kernel: amd64}
`,
  );
  appliance = await startAppliance(
    { configPath, dataDir: join(dir, 'data'), address: '127.0.0.1', httpPort: 0, tftpPort: 0, dhcpPort: 0, pxePort: 0, proxyDhcp: true },
    { log: captureLog('warn').log, stockIpxeDir: join(dir, 'no-stock-ipxe') },
  );
});

after(async () => {
  await appliance.close();
  await rm(dir, { recursive: true, force: true });
});

const menu = async (query: string): Promise<string> => (await fetch(`${appliance.serverUrl}/menu.ipxe?${query}`)).text();

test("ProxyDHCP's option 93 stands in for ${buildarch}: 32-bit UEFI loses the x86_64 entry and boots the i686 spec", async () => {
  const request = pxeClientRequest({ architecture: 6, messageType: 3, mac: IA32_MAC, ciaddr: '127.0.0.2', xid: 0x1a32 });
  const reply = decodeDhcpPacket(await udpExchange(encodeDhcpPacket(request), appliance.ports.pxe!));
  assert.equal(reply.file, 'ipxe32.efi', 'ProxyDHCP answered the 32-bit UEFI client');

  const learnt = await menu(`mac=${IA32_MAC}&platform=efi`);
  assert.match(learnt, /^# hidden: x64only \(x86_64 kernel; this is 32-bit UEFI\)$/m);
  assert.doesNotMatch(learnt, /^item bs-image-x64only/m);
  assert.match(learnt, /^:bs-image-both\n(?:.*\n)*?kernel \$\{base-url\}i686 /m, 'the first spec it can start');

  // Another machine DHCP never saw, with the same report, gets both (nothing says its CPU).
  const unknown = await menu(`mac=${OTHER_MAC}&platform=efi`);
  assert.match(unknown, /^item bs-image-x64only/m);
  assert.match(unknown, /^:bs-image-both\n(?:.*\n)*?kernel \$\{base-url\}amd64 /m);

  // What iPXE reports itself wins: the same MAC as x64 UEFI boots the x86_64 kernel.
  assert.match(await menu(`mac=${IA32_MAC}&platform=efi&buildarch=x86_64`), /^item bs-image-x64only/m);
});
