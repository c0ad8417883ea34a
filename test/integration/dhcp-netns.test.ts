// ProxyDHCP on real ports inside test-only network namespaces (10.77.41-43.x, created and deleted here):
// busybox udhcpc, a DHCP client nobody here wrote, asks as a PXE ROM; and a multi-homed host shows that the
// broadcast reply leaves through the configured interface, not the default route's. Needs root and iproute2;
// the udhcpc tests also need busybox (Debian package busybox-static). Skipped, with the reason, otherwise.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { skipOrFail } from '../support/skip-policy.ts';

const run = promisify(execFile);
const helperPath = fileURLToPath(new URL('../support/dhcp-netns.ts', import.meta.url));

function netnsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return '`ip netns` is unavailable (Debian package iproute2)';
  }
  return undefined;
}

function udhcpcSkipReason(): string | undefined {
  const netns = netnsSkipReason();
  if (netns !== undefined) return netns;
  try {
    execFileSync('busybox', ['udhcpc', '--help'], { stdio: 'ignore' });
  } catch (error) {
    // busybox prints usage and exits 1 for --help; only a missing binary is a reason to skip.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'busybox is not installed (Debian package busybox-static)';
  }
  return undefined;
}

/** A helper process inside a namespace whose stdout lines (JSON) are collected. */
interface Helper {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
}

/** Namespaces and processes of one test; cleanup() removes them all, also after a failure. */
class TestNetwork {
  private readonly namespaces: string[] = [];
  private readonly helpers: Helper[] = [];

  /** Creates a namespace with its loopback up; names carry the pid so parallel runs never collide. */
  namespace(role: string): string {
    const name = `bsdhcp-${process.pid}-${role}`;
    execFileSync('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A veth pair created directly inside two namespaces, so interface names only need to be unique there. */
  link(left: { ns: string; name: string; cidr?: string }, right: { ns: string; name: string; cidr?: string }): void {
    execFileSync('ip', ['link', 'add', left.name, 'netns', left.ns, 'type', 'veth', 'peer', 'name', right.name, 'netns', right.ns]);
    for (const end of [left, right]) {
      if (end.cidr !== undefined) execFileSync('ip', ['-n', end.ns, 'addr', 'add', end.cidr, 'dev', end.name]);
      execFileSync('ip', ['-n', end.ns, 'link', 'set', end.name, 'up']);
    }
  }

  /** Starts test/support/dhcp-netns.ts in a namespace and waits for its first line that matches `ready`. */
  async helper(ns: string, args: string[], ready: (line: Record<string, unknown>) => boolean): Promise<Helper> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, helperPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const helper: Helper = { child, lines: [] };
    this.helpers.push(helper);
    createInterface({ input: child.stdout! }).on('line', (line) => helper.lines.push(JSON.parse(line) as Record<string, unknown>));
    await waitFor(() => helper.lines.some(ready), `${args[0]} in ${ns} did not start`);
    return helper;
  }

  async stop(helper: Helper): Promise<void> {
    if (helper.child.exitCode === null && helper.child.signalCode === null) {
      const exited = once(helper.child, 'exit');
      helper.child.kill('SIGTERM');
      await exited;
    }
  }

  async cleanup(): Promise<void> {
    for (const helper of this.helpers) await this.stop(helper);
    // Every namespace is deleted even if one deletion fails; deleting a namespace also deletes its veths.
    const failures = this.namespaces.flatMap((ns) => {
      try {
        execFileSync('ip', ['netns', 'del', ns]);
        return [];
      } catch (error) {
        return [`${ns}: ${String(error)}`];
      }
    });
    assert.deepEqual(failures, [], 'test namespaces left behind');
  }
}

async function waitFor(condition: () => boolean, failure: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, failure);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs busybox udhcpc in a namespace; returns the environment its script saw on "bound", or undefined without a lease. */
async function udhcpc(ns: string, iface: string, extra: string[]): Promise<Record<string, string> | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'bootstation-udhcpc-'));
  try {
    const script = join(dir, 'script.sh');
    writeFileSync(script, `#!/bin/sh\nenv > "${dir}/$1.env"\n`, { mode: 0o755 });
    // -n: give up without a lease; -t 2 -T 1: two DHCPDISCOVERs a second apart; -O: ask for options 43 and 60.
    await run('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-i', iface, '-f', '-q', '-n', '-t', '2', '-T', '1', '-s', script, '-O', '43', '-O', '60', ...extra], {
      timeout: 20_000,
    }).catch(() => undefined);
    const bound = join(dir, 'bound.env');
    if (!existsSync(bound)) return undefined;
    return Object.fromEntries(
      readFileSync(bound, 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BIOS_PXE = ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'];

describe('ProxyDHCP answers busybox udhcpc posing as PXE firmware', { skip: skipOrFail('dhcp-netns-udhcpc', udhcpcSkipReason()) }, () => {
  const network = new TestNetwork();
  const serverAddress = '10.77.41.2';
  let server: Helper;
  let clientNs: string;

  before(async () => {
    const serverNs = network.namespace('srv');
    clientNs = network.namespace('cli');
    network.link({ ns: serverNs, name: 'lan0', cidr: `${serverAddress}/24` }, { ns: clientNs, name: 'eth0' });
    const serve = { address: serverAddress, serverAddress, binaries: ['undionly.kpxe', 'ipxe.efi'], customBuild: false };
    server = await network.helper(serverNs, ['serve', JSON.stringify(serve)], (line) => line.msg === 'ProxyDHCP listening');
  });
  after(() => network.cleanup());

  it('a BIOS PXE client gets siaddr, undionly.kpxe, option 43 (discovery control 8) and no address', async () => {
    const env = await udhcpc(clientNs, 'eth0', BIOS_PXE);
    assert.ok(env, 'udhcpc got no answer');
    assert.equal(env.siaddr, serverAddress);
    assert.equal(env.serverid, serverAddress);
    assert.equal(env.boot_file, 'undionly.kpxe');
    assert.equal(env.opt43, '060108ff');
    assert.equal(env.vendor, 'PXEClient');
    assert.equal(env.ip, '0.0.0.0');
    const offer = server.lines.find((line) => line.msg === 'ProxyDHCP DHCPOFFER' && line.firmware === 'bios-pxe');
    assert.ok(offer, 'the server logged no DHCPOFFER line for the BIOS client');
    assert.equal(offer.to, '255.255.255.255:68');
  });

  it('an x64 UEFI client gets ipxe.efi and no option 43', async () => {
    const env = await udhcpc(clientNs, 'eth0', ['-V', 'PXEClient:Arch:00007:UNDI:003000', '-x', '0x5d:0007']);
    assert.ok(env, 'udhcpc got no answer');
    assert.equal(env.boot_file, 'ipxe.efi');
    assert.equal(env.siaddr, serverAddress);
    assert.equal(env.opt43, undefined);
  });

  it('an iPXE client (user class "iPXE") gets the boot script URL, still with siaddr', async () => {
    const env = await udhcpc(clientNs, 'eth0', [...BIOS_PXE, '-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`]);
    assert.ok(env, 'udhcpc got no answer');
    assert.equal(env.boot_file, `http://${serverAddress}:8080/boot.ipxe`);
    assert.equal(env.siaddr, serverAddress);
  });

  it('an ordinary DHCP client gets nothing, and the server says why at debug', async () => {
    const before = server.lines.length;
    assert.equal(await udhcpc(clientNs, 'eth0', []), undefined);
    const ignored = server.lines.slice(before).find((line) => line.msg === 'ProxyDHCP ignored');
    assert.ok(ignored, 'no "ignored" log line');
    assert.equal(ignored.level, 20);
    assert.match(String(ignored.vendorClass), /^udhcp /);
  });
});

describe('ProxyDHCP replies leave through the configured interface on a multi-homed host', { skip: skipOrFail('dhcp-netns-multi-homed', udhcpcSkipReason()) }, () => {
  // host: lan0 10.77.42.2/24 (the boot LAN, towards "pc") and wan0 10.77.43.2/24 holding the default route (towards "other").
  const network = new TestNetwork();
  const lanAddress = '10.77.42.2';
  let hostNs: string;
  let pcNs: string;
  let otherSide: Helper;

  before(async () => {
    hostNs = network.namespace('host');
    pcNs = network.namespace('pc');
    const otherNs = network.namespace('other');
    network.link({ ns: hostNs, name: 'lan0', cidr: `${lanAddress}/24` }, { ns: pcNs, name: 'eth0' });
    network.link({ ns: hostNs, name: 'wan0', cidr: '10.77.43.2/24' }, { ns: otherNs, name: 'eth0', cidr: '10.77.43.1/24' });
    execFileSync('ip', ['-n', hostNs, 'route', 'add', 'default', 'via', '10.77.43.1', 'dev', 'wan0']);
    otherSide = await network.helper(otherNs, ['listen', '68'], (line) => line.listening === true);
  });
  after(() => network.cleanup());

  async function offerSeenBy(serviceAddress: string): Promise<{ pc: Record<string, string> | undefined; other: Array<Record<string, unknown>> }> {
    const serve = { address: serviceAddress, serverAddress: lanAddress, binaries: ['undionly.kpxe'], customBuild: false };
    const server = await network.helper(hostNs, ['serve', JSON.stringify(serve)], (line) => line.msg === 'ProxyDHCP listening');
    const before = otherSide.lines.length;
    try {
      const pc = await udhcpc(pcNs, 'eth0', BIOS_PXE);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { pc, other: otherSide.lines.slice(before) };
    } finally {
      await network.stop(server);
    }
  }

  it('with the service bound to the LAN address, the offer reaches the PC and nothing leaks to the default route', async () => {
    const { pc, other } = await offerSeenBy(lanAddress);
    assert.ok(pc, 'the PC on lan0 got no offer');
    assert.equal(pc.siaddr, lanAddress);
    assert.deepEqual(other, [], 'a reply went out of wan0, the default route');
  });

  it('control: a sender bound to 0.0.0.0 would broadcast out of the default route instead (why the service binds its address)', async () => {
    const { pc, other } = await offerSeenBy('0.0.0.0');
    assert.equal(pc, undefined, 'the PC unexpectedly got an offer from a 0.0.0.0 sender');
    assert.ok(other.some((line) => line.siaddr === lanAddress), 'the misrouted offer did not show up on wan0');
  });
});
