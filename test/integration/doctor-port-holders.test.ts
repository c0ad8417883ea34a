// The doctor's port-holder lookup against a /proc tree written to a temporary folder: /proc/net tables, and
// processes whose fd links name the sockets' inodes (the /proc/net parsing itself is in test/unit/doctor-checks).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPortHolders } from '../../src/doctor/port-holders.ts';

// A DHCP server on 0.0.0.0:67 and a TFTP server on 10.77.0.2:69 (x86_64, little-endian), a web server on [::]:80.
const PROC_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31337 2 0000000000000000 0
  700: 02004D0A:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31338 2 0000000000000000 0
`;
const PROC_TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5050 1 0000000000000000 100 0 0 10 0
`;

test('finds the process behind a port through /proc/<pid>/fd, and knows bootstation serve', async () => {
  const proc = await mkdtemp(join(tmpdir(), 'bootstation-proc-'));
  try {
    await mkdir(join(proc, 'net'));
    await writeFile(join(proc, 'net', 'udp'), PROC_UDP);
    await writeFile(join(proc, 'net', 'tcp6'), PROC_TCP6);
    const fakeProcess = async (pid: number, comm: string, cmdline: string[], inode: number): Promise<void> => {
      await mkdir(join(proc, String(pid), 'fd'), { recursive: true });
      await writeFile(join(proc, String(pid), 'comm'), `${comm}\n`);
      await writeFile(join(proc, String(pid), 'cmdline'), cmdline.join('\0'));
      await symlink('/dev/null', join(proc, String(pid), 'fd', '0'));
      await symlink(`socket:[${inode}]`, join(proc, String(pid), 'fd', '7'));
    };
    await fakeProcess(412, 'dnsmasq', ['/usr/sbin/dnsmasq', '--conf-file=/etc/dnsmasq.conf'], 31337);
    await fakeProcess(900, 'node', ['/usr/bin/node', '/opt/bootstation/dist/cli/main.js', 'serve'], 5050);
    const [dhcp, tftp, http, free] = await findPortHolders(
      [{ protocol: 'udp', port: 67, service: 'ProxyDHCP' }, { protocol: 'udp', port: 69, service: 'TFTP' }, { protocol: 'tcp', port: 80, service: 'HTTP' }, { protocol: 'udp', port: 4011, service: 'PXE' }],
      proc,
    );
    assert.deepEqual(dhcp, [{ address: '0.0.0.0', pid: 412, command: 'dnsmasq', bootstation: false }]);
    assert.deepEqual(tftp, [{ address: '10.77.0.2', pid: undefined, command: undefined, bootstation: false }], 'a socket whose process cannot be seen');
    assert.deepEqual(http, [{ address: '::', pid: 900, command: 'node', bootstation: true }]);
    assert.deepEqual(free, []);
  } finally {
    await rm(proc, { recursive: true, force: true });
  }
});
