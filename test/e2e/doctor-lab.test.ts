// `bootstation doctor` in test-only network namespaces (10.77.52.x, created and deleted here): a rogue ProxyDHCP
// (dnsmasq with dhcp-range=…,proxy and a pxe-service) answers next door, and the doctor must name it and exit 1;
// once it is gone, the same run passes. Run in the rogue's own namespace, it must name dnsmasq as the holder of
// UDP 67. No VM. Needs root, iproute2 and dnsmasq (Debian package dnsmasq-base); skipped, with the reason, otherwise
// (a failure under CI=true). It needs no iPXE package: data/ipxe holds stand-in first-stage files.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../support/cli.ts';
import { skipOrFail } from '../support/skip-policy.ts';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const [command, args, pkg] of [['ip', ['netns', 'list'], 'iproute2'], ['dnsmasq', ['--version'], 'dnsmasq-base']] as const) {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
    } catch {
      return `${command} is unavailable (Debian package ${pkg})`;
    }
  }
  return undefined;
}

const NAS = `bsdoc-${process.pid}-nas`;
const ROGUE = `bsdoc-${process.pid}-rogue`;

describe('bootstation doctor on a LAN with a rogue ProxyDHCP', { skip: skipOrFail('doctor-lab', skipReason()) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstation-doctor-'));
  let rogue: ChildProcess | undefined;

  before(async () => {
    for (const ns of [NAS, ROGUE]) {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    execFileSync('ip', ['link', 'add', 'eth0', 'netns', NAS, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ROGUE]);
    for (const [ns, cidr] of [[NAS, '10.77.52.2/24'], [ROGUE, '10.77.52.3/24']] as const) {
      execFileSync('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    writeFileSync(join(dir, 'images.yaml'), 'menu:\n  title: Doctor lab\n');
    // The doctor fails a missing BIOS or x64 UEFI binary; stand-ins (a user's own binaries, to the doctor) keep
    // this test from needing Debian's ipxe package in /usr/lib/ipxe, which the LAN checks have nothing to do with.
    mkdirSync(join(dir, 'data', 'ipxe'), { recursive: true });
    for (const file of ['undionly.kpxe', 'ipxe.efi']) writeFileSync(join(dir, 'data', 'ipxe', file), 'stand-in');
    writeFileSync(
      join(dir, 'rogue.conf'),
      [
        'port=0', 'interface=eth0', 'bind-interfaces', 'no-resolv', 'no-hosts', 'user=root',
        `pid-file=${join(dir, 'rogue.pid')}`, `log-facility=${join(dir, 'rogue.log')}`, 'log-dhcp',
        // The "other PXE server" of many home labs: dnsmasq as ProxyDHCP with a PXE boot service.
        'dhcp-range=10.77.52.0,proxy,255.255.255.0',
        'pxe-service=x86PC,"Rogue network boot",pxelinux',
        '',
      ].join('\n'),
    );
    rogue = spawn('ip', ['netns', 'exec', ROGUE, 'dnsmasq', '--keep-in-foreground', `--conf-file=${join(dir, 'rogue.conf')}`], { stdio: 'ignore' });
    // dnsmasq binds before it writes its pid file; the doctor's own port check below waits for the bind.
    await waitFor(async () => (await doctor(ROGUE)).stdout.includes('held by dnsmasq'), 'dnsmasq to hold UDP 67 in the rogue namespace');
  });

  after(async () => {
    await stopRogue();
    for (const ns of [NAS, ROGUE]) execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function stopRogue(): Promise<void> {
    if (rogue && rogue.exitCode === null && rogue.signalCode === null) {
      const exited = once(rogue, 'exit');
      rogue.kill('SIGTERM');
      await exited;
    }
  }

  it('names dnsmasq as the holder of UDP 67 where it runs', async () => {
    const { code, stdout } = await doctor(ROGUE);
    assert.equal(code, 1, stdout);
    assert.match(stdout, /^FAIL ports: UDP 67 \(ProxyDHCP\) is held by dnsmasq \(pid \d+\) on 0\.0\.0\.0 — fix: stop dnsmasq/m);
  });

  it('lists the rogue ProxyDHCP with its boot file and menu, and exits 1', async () => {
    const { code, stdout } = await doctor(NAS);
    assert.equal(code, 1, stdout);
    // dnsmasq answers the DISCOVER with a boot menu; its boot file comes from asking port 4011 for the item.
    assert.match(stdout, /^FAIL pxe: another ProxyDHCP server at 10\.77\.52\.3 answers PXE clients with boot file "pxelinux\.0", PXE menu "Rogue network boot" — fix: stop the PXE service on 10\.77\.52\.3/m);
    assert.match(stdout, /^ok {3}ports: UDP 67 \(ProxyDHCP\) is free$/m, 'the rogue runs on another host');
    assert.match(stdout, /^ok {3}interface: serving on eth0 with address 10\.77\.52\.2/m);
    assert.match(stdout, /^doctor: 1 check failed$/m);
  });

  it('passes once the rogue is gone: nothing but warnings, exit 0', async () => {
    await stopRogue();
    const { code, stdout } = await doctor(NAS);
    assert.match(stdout, /^warn pxe: nothing answered a PXE DISCOVER on eth0 within 3 s/m);
    assert.doesNotMatch(stdout, /^FAIL/m);
    assert.equal(code, 0, stdout);
  });

  function doctor(ns: string): Promise<{ code: number | null; stdout: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, 'doctor', '--config', join(dir, 'images.yaml'), '--data', join(dir, 'data'), '--interface', 'eth0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
    });
  }
});

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
