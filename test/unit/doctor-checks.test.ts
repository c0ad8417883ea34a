import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { decodeDhcpPacket, encodeDhcpPacket, encodeSubOptions, latin1Encode } from '../../src/dhcp/codec.ts';
import { checkHttp, checkImages, checkInterface, checkIpxeBinaries, checkPort, checkPxeServers, doctorExitCode, formatCheckLine } from '../../src/doctor/checks.ts';
import { decodeProcAddress, parseProcNetTable, socketInodeOf } from '../../src/doctor/proc-net.ts';
import { bootMenu, pxeDiscoverPacket, readPxeAnswer, type PxeAnswer } from '../../src/doctor/pxe-answers.ts';

// Tables in the format of Linux's /proc/net (x86_64, little-endian): a DHCP server on 0.0.0.0:67, a TFTP server
// on 10.77.0.2:69, sshd listening on 22 next to an established connection, a web server on [::]:80.
const PROC_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31337 2 0000000000000000 0
  700: 02004D0A:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31338 2 0000000000000000 0
`;
const PROC_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 0200A8C0:0016 0500A8C0:D2F0 01 00000000:00000000 02:0009C6C1 00000000     0        0 2002 4 0000000000000000 20 4 31 10 -1
`;
const PROC_TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5050 1 0000000000000000 100 0 0 10 0
`;

describe('/proc/net parsing', () => {
  it('reads bound UDP sockets and listening TCP sockets with address, port and inode', () => {
    assert.deepEqual(parseProcNetTable(PROC_UDP, 'udp'), [
      { protocol: 'udp', address: '0.0.0.0', port: 67, inode: 31337 },
      { protocol: 'udp', address: '10.77.0.2', port: 69, inode: 31338 },
    ]);
    assert.deepEqual(parseProcNetTable(PROC_TCP, 'tcp'), [{ protocol: 'tcp', address: '0.0.0.0', port: 22, inode: 2001 }], 'an established connection is not a listener');
    assert.deepEqual(parseProcNetTable(PROC_TCP6, 'tcp'), [{ protocol: 'tcp', address: '::', port: 80, inode: 5050 }]);
  });

  it('decodes little-endian words and fd links', () => {
    assert.equal(decodeProcAddress('0100007F'), '127.0.0.1');
    assert.equal(decodeProcAddress('0000000000000000FFFF00000200A8C0'), '0:0:0:0:0:ffff:c0a8:2');
    assert.equal(socketInodeOf('socket:[31337]'), 31337);
    assert.equal(socketInodeOf('/dev/null'), undefined);
    assert.equal(socketInodeOf('pipe:[31337]'), undefined);
  });
});

describe('port checks', () => {
  const dhcp = { protocol: 'udp', port: 67, service: 'ProxyDHCP' } as const;
  it('passes a free port and one held by bootstation serve', () => {
    assert.equal(formatCheckLine(checkPort(dhcp, [])), 'ok   ports: UDP 67 (ProxyDHCP) is free');
    assert.equal(checkPort(dhcp, [{ address: '0.0.0.0', pid: 9, command: 'node', bootstation: true }]).status, 'ok');
  });
  it('fails a port held by another program, naming it and the fix', () => {
    const line = formatCheckLine(checkPort(dhcp, [{ address: '0.0.0.0', pid: 412, command: 'dnsmasq', bootstation: false }]));
    assert.equal(line, 'FAIL ports: UDP 67 (ProxyDHCP) is held by dnsmasq (pid 412) on 0.0.0.0 — fix: stop dnsmasq (PXE clients only ask on ports 67 and 4011), or use proxy_dhcp: false and let that server hand out next-server and the boot file');
    const unseen = checkPort({ protocol: 'tcp', port: 80, service: 'HTTP' }, [{ address: '::', bootstation: false }]);
    assert.match(formatCheckLine(unseen), /held by a process this user cannot see, on :: \(run as root to name it\) — fix: find the program with `sudo ss -lunp`.*server\.http_port/);
  });
});

describe('PXE answers', () => {
  const MAC = '52:54:00:d0:c0:01';

  function answerPacket(fields: { yiaddr?: string; siaddr?: string; file?: string; vendorClass?: string; menu?: Array<[number, string]>; serverId?: string; xid?: number }) {
    const request = pxeDiscoverPacket(MAC, 0x1234);
    const options = new Map<number, Uint8Array>([[53, Uint8Array.of(2)]]);
    if (fields.serverId) options.set(54, Uint8Array.from(fields.serverId.split('.').map(Number)));
    if (fields.vendorClass) options.set(60, latin1Encode(fields.vendorClass));
    if (fields.menu) {
      const items = fields.menu.flatMap(([type, text]) => [type >> 8, type & 0xff, text.length, ...latin1Encode(text)]);
      options.set(43, encodeSubOptions(new Map([[6, Uint8Array.of(7)], [9, Uint8Array.from(items)]])));
    }
    // Through the codec, as the probe receives it.
    return decodeDhcpPacket(encodeDhcpPacket({ ...request, op: 2, xid: fields.xid ?? 0x1234, yiaddr: fields.yiaddr ?? '0.0.0.0', siaddr: fields.siaddr ?? '0.0.0.0', file: fields.file ?? '', options }));
  }

  it('the DISCOVER is what a BIOS PXE ROM sends, and its boot server request names the menu item', () => {
    const discover = pxeDiscoverPacket(MAC, 0x1234);
    assert.equal(new TextDecoder().decode(discover.options.get(60)), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual([...(discover.options.get(93) ?? [])], [0, 0]);
    assert.equal(discover.flags, 0x8000, 'answers must be broadcast to a client without an address');
    const request = pxeDiscoverPacket(MAC, 0x1234, { type: 0x8000, clientAddress: '10.77.52.2' });
    assert.deepEqual([...(request.options.get(53) ?? [])], [3]);
    assert.deepEqual([...(request.options.get(43) ?? [])], [71, 4, 0x80, 0x00, 0, 0, 255]);
    assert.equal(request.ciaddr, '10.77.52.2');
  });

  it('reads a ProxyDHCP menu answer, a router offering an address and boot file, and ignores other xids', () => {
    const proxy = readPxeAnswer(answerPacket({ vendorClass: 'PXEClient', serverId: '10.77.52.3', menu: [[0, 'Boot from local disk'], [0x8000, 'Rogue <boot>']] }), '10.77.52.3', 0x1234);
    assert.deepEqual(proxy, { server: '10.77.52.3', kind: 'proxy-dhcp', offered: undefined, bootFile: undefined, nextServer: undefined, pxeOptions: true, menu: [{ type: 0, description: 'Boot from local disk' }, { type: 0x8000, description: 'Rogue <boot>' }] });
    const router = readPxeAnswer(answerPacket({ yiaddr: '10.0.0.50', siaddr: '10.0.0.9', file: 'pxelinux.0' }), '10.0.0.1', 0x1234);
    assert.deepEqual(router && { kind: router.kind, server: router.server, offered: router.offered, bootFile: router.bootFile, nextServer: router.nextServer }, { kind: 'dhcp', server: '10.0.0.1', offered: '10.0.0.50', bootFile: 'pxelinux.0', nextServer: '10.0.0.9' });
    assert.equal(readPxeAnswer(answerPacket({ xid: 99 }), '10.0.0.1', 0x1234), undefined);
    assert.deepEqual(bootMenu(Uint8Array.of(9, 200, 1)), [], 'a malformed option 43 is no menu');
  });

  const answer = (overrides: Partial<PxeAnswer>): PxeAnswer => ({ server: '10.0.0.1', kind: 'dhcp', pxeOptions: false, menu: [], ...overrides });

  it('fails other ProxyDHCP servers and routers sending boot options, one line each; passes a plain router and ourselves', () => {
    const lines = checkPxeServers(
      {
        interface: 'eth0',
        seconds: 3,
        answers: [
          answer({ offered: '10.0.0.50' }),
          answer({ server: '10.0.0.2', kind: 'proxy-dhcp', bootFile: 'undionly.kpxe' }),
          answer({ server: '10.0.0.3', kind: 'proxy-dhcp', bootFile: 'pxelinux.0', menu: [{ type: 0x8000, description: 'Rogue' }] }),
          answer({ server: '10.0.0.4', offered: '10.0.0.51', bootFile: 'ipxe.efi', nextServer: '10.0.0.4' }),
        ],
      },
      '10.0.0.2',
    ).map(formatCheckLine);
    assert.deepEqual(lines, [
      'ok   pxe: the DHCP server at 10.0.0.1 offers addresses (10.0.0.50) without boot options, as bootstation expects',
      'ok   pxe: bootstation itself answers at 10.0.0.2 (boot file "undionly.kpxe")',
      'FAIL pxe: another ProxyDHCP server at 10.0.0.3 answers PXE clients with boot file "pxelinux.0", PXE menu "Rogue" — fix: stop the PXE service on 10.0.0.3 (for dnsmasq: remove its dhcp-range=…,proxy and pxe-service lines); PCs take whichever answer comes first',
      'FAIL pxe: the DHCP server at 10.0.0.4 already sends PXE clients boot file "ipxe.efi", next-server 10.0.0.4 — fix: remove the next-server/boot file (options 66, 67) from 10.0.0.4\'s DHCP settings, or set proxy_dhcp: false and point them at bootstation',
    ]);
  });

  it('warns when the probe could not run or nothing answered', () => {
    assert.equal(checkPxeServers({ skipped: 'needs root' }, undefined)[0]?.status, 'warn');
    assert.match(formatCheckLine(checkPxeServers({ interface: 'eth0', seconds: 3, answers: [] }, '10.0.0.2')[0]!), /^warn pxe: nothing answered a PXE DISCOVER on eth0 within 3 s/);
  });
});

describe('other checks', () => {
  it('interface: fails an address that is not on this host', () => {
    assert.equal(checkInterface({ ok: true, interface: 'eth0', address: '10.0.0.2', source: 'configured address', onThisHost: true }).status, 'ok');
    assert.match(formatCheckLine(checkInterface({ ok: true, address: '10.9.9.9', source: 'configured address', onThisHost: false })), /^FAIL interface: address 10\.9\.9\.9 is not on any interface of this host — fix: set server\.address/);
    assert.equal(checkInterface({ ok: false, message: 'no default route to pick an interface from' }).status, 'fail');
  });

  it('iPXE: BIOS and x64 UEFI binaries are required, 32-bit and arm64 only warned about, stock binaries warned about', () => {
    const stock = checkIpxeBinaries({ dir: '/usr/lib/ipxe', kind: 'stock', files: new Map([['undionly.kpxe', '/usr/lib/ipxe/undionly.kpxe']]) });
    assert.deepEqual(stock.map((result) => result.status), ['warn', 'ok', 'fail', 'warn', 'warn']);
    // A build of one target would write data/ipxe, which then hides every stock binary: stock gets a whole build.
    assert.deepEqual(stock.slice(1).map(formatCheckLine), [
      'ok   ipxe: BIOS clients get undionly.kpxe (PXE)',
      'FAIL ipxe: x64 UEFI: ipxe.efi missing from /usr/lib/ipxe, so these clients get no answer — fix: run `bootstation ipxe build` (every platform), or `apt-get install ipxe` for the stock one',
      "warn ipxe: 32-bit UEFI: ipxe32.efi missing from /usr/lib/ipxe, so these clients get no answer — fix: run `bootstation ipxe build` (every platform; Debian's stock iPXE has no ipxe32.efi)",
      "warn ipxe: arm64 UEFI: snp-arm64.efi missing from /usr/lib/ipxe, so these clients get no answer — fix: run `bootstation ipxe build` (every platform; Debian's stock iPXE has no snp-arm64.efi)",
    ]);
  });

  it("iPXE: bootstation's own build names each platform's missing target; custom binaries get a whole build", () => {
    const files = new Map([['undionly.kpxe', '/data/ipxe/undionly.kpxe'], ['ipxe.efi', '/data/ipxe/ipxe.efi']]);
    const own = checkIpxeBinaries({ dir: '/data/ipxe', kind: 'own-build', files, build: { version: 'v2.0.0', keymap: 'de', builtAt: 'now' } });
    assert.deepEqual(own.slice(1).map(formatCheckLine), [
      'ok   ipxe: BIOS clients get undionly.kpxe (PXE)',
      'ok   ipxe: x64 UEFI clients get ipxe.efi (PXE and UEFI HTTP Boot)',
      'warn ipxe: 32-bit UEFI: ipxe32.efi missing from /data/ipxe, so these clients get no answer — fix: run `bootstation ipxe build --targets efi32`',
      'warn ipxe: arm64 UEFI: snp-arm64.efi missing from /data/ipxe, so these clients get no answer — fix: run `bootstation ipxe build --targets arm64`',
    ]);
    const custom = checkIpxeBinaries({ dir: '/data/ipxe', kind: 'custom', files });
    assert.equal(
      formatCheckLine(custom.at(-1)!),
      "warn ipxe: arm64 UEFI: snp-arm64.efi missing from /data/ipxe, so these clients get no answer — fix: put your snp-arm64.efi next to the others, or run `bootstation ipxe build` (every platform) to serve bootstation's own",
    );
  });

  it("iPXE: stock binaries, also where a stock image put them into data/ipxe, are named with what they lack and the fix", () => {
    const seeded = checkIpxeBinaries({ dir: '/data/ipxe', kind: 'stock', files: new Map([['undionly.kpxe', '/data/ipxe/undionly.kpxe'], ['ipxe.efi', '/data/ipxe/ipxe.efi']]) });
    assert.equal(
      formatCheckLine(seeded[0]!),
      "warn ipxe: Debian's stock iPXE binaries in /data/ipxe lack your keyboard layout (US keys only), bootstation's embedded script (machines reach boot.ipxe only through the ProxyDHCP's chain), ipxe32.efi (32-bit UEFI) and snp-arm64.efi (arm64 UEFI)" +
        ' — fix: build your own with `bootstation ipxe build`, or build the Docker image the default way (without IPXE_SOURCE=stock)',
    );
    const own = checkIpxeBinaries({ dir: '/data/ipxe', kind: 'own-build', files: new Map(), build: { version: 'v2.0.0', keymap: 'de', builtAt: 'now' } });
    assert.doesNotMatch(formatCheckLine(own[0]!), /stock|lack/, "bootstation's own build is not warned about");
  });

  it('HTTP: a free port before serve starts is a warning; a refused or foreign answer fails', () => {
    assert.equal(checkHttp({ url: 'http://10.0.0.2', status: 'ok' }).status, 'ok');
    assert.equal(checkHttp({ url: 'http://10.0.0.2', status: 'refused', portFree: true }).status, 'warn');
    assert.equal(checkHttp({ url: 'http://10.0.0.2', status: 'refused', portFree: false }).status, 'fail');
    assert.equal(checkHttp({ url: 'http://10.0.0.2', status: 'error', message: 'ETIMEDOUT' }).status, 'fail');
  });

  it('images: not ingested, failed and missing files fail with the command that fixes them', () => {
    const base: ImageStatus = { id: 'a', label: 'A', source: 'url', state: 'ready', version: '1', size: 1, lastIngest: null, verification: null, missingFiles: [], failure: null, versions: [], diskUsed: null, pinned: null };
    const lines = checkImages([
      base,
      { ...base, id: 'b', state: 'not ingested' },
      { ...base, id: 'c', state: 'failed', failure: { at: 'now', code: 'X', message: 'the download of http://x/y.iso failed: 404' } },
      { ...base, id: 'd', source: 'dir', state: 'missing files', missingFiles: ['linux'] },
    ]).map(formatCheckLine);
    assert.deepEqual(lines, [
      'ok   images: a is ready (1)',
      'FAIL images: b is configured but not ingested — fix: run `bootstation ingest b`',
      'FAIL images: c: its last ingest failed: the download of http://x/y.iso failed: 404 — fix: fix the cause, then run `bootstation ingest c`',
      'FAIL images: d is missing linux — fix: put the files into its source.dir, or correct boot.kernel / boot.initrd',
    ]);
  });

  it('the exit code is 1 only when a check failed', () => {
    assert.equal(doctorExitCode([{ check: 'x', status: 'ok', message: '' }, { check: 'y', status: 'warn', message: '' }]), 0);
    assert.equal(doctorExitCode([{ check: 'x', status: 'fail', message: '' }]), 1);
  });
});
