// The files every server serves and the servers themselves: bootstation in namespace bsbench-bs, its peers
// (dnsmasq for TFTP and ProxyDHCP, tftpd-hpa, nginx) in bsbench-peer, each namespace with a client namespace on a
// veth pair. Clients of TFTP and HTTP run in the server's own namespace and reach it over loopback.
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createNetnsPair, inNetns, listening, removeNetnsPair, runChecked, startServer, waitFor, type NetnsPair, type ServerProcess } from './lib.ts';

/** Ports inside the namespaces (their own, so the standard ones are free). */
export const PORTS = { tftp: 69, tftpdHpa: 6969, http: 8080, dhcp: 67, pxe: 4011 } as const;

/** Where the fixtures are. */
export interface Fixtures {
  work: string;
  /** bootstation's data dir; its ipxe/ folder is also the TFTP root of dnsmasq and tftpd-hpa. */
  data: string;
  tftpRoot: string;
  /** The HTTP document root: bootstation's image "bench" and nginx's root. */
  www: string;
  config: string;
}

/** TFTP files: the stock ipxe.efi (≈ 830 KiB, what UEFI machines fetch) and a 32 MiB file. */
export const TFTP_FILES = { ipxe: 'ipxe.efi', big: 'big32.bin' } as const;
/** The 1 GiB HTTP file (a squashfs-sized root image). */
export const HTTP_FILE = 'root.squashfs';

/** Writes `bytes` random bytes to `path` (random, so no layer can compress or deduplicate them). */
export async function randomFile(path: string, bytes: number): Promise<void> {
  await runChecked(['sh', '-c', `head -c ${bytes} /dev/urandom > '${path}'`], { timeoutMs: 120_000 });
}

/** Creates the served files and bootstation's images.yaml under `work` (made world-readable: nginx and tftpd-hpa drop to nobody). */
export async function createFixtures(work: string): Promise<Fixtures> {
  const data = join(work, 'data');
  const tftpRoot = join(data, 'ipxe');
  const www = join(work, 'www');
  await mkdir(tftpRoot, { recursive: true });
  await mkdir(www, { recursive: true });
  await copyFile('/usr/lib/ipxe/ipxe.efi', join(tftpRoot, TFTP_FILES.ipxe));
  await copyFile('/usr/lib/ipxe/undionly.kpxe', join(tftpRoot, 'undionly.kpxe'));
  await randomFile(join(tftpRoot, TFTP_FILES.big), 32 << 20);
  await randomFile(join(www, 'vmlinuz'), 8 << 20);
  await randomFile(join(www, HTTP_FILE), 1 << 30);
  const config = join(work, 'images.yaml');
  await writeFile(
    config,
    ['menu:', '  title: Benchmark', 'images:', '  - id: bench', '    label: Benchmark files', '    source:', `      dir: ${www}`, '    boot:', '      kernel: vmlinuz', ''].join('\n'),
  );
  await runChecked(['chmod', '-R', 'a+rX', work]);
  await chmod(work, 0o755);
  return { work, data, tftpRoot, www, config };
}

/** The running servers of both sides. */
export interface Servers {
  bs: NetnsPair;
  peer: NetnsPair;
  bootstation: ServerProcess;
  dnsmasq: ServerProcess;
  tftpdHpa: ServerProcess;
  nginx: ServerProcess;
  /** Stops every server and deletes the namespaces. */
  close(): Promise<void>;
}

/**
 * Compiles src/ as `npm start` does (tsconfig.build.json), into bench/.build so that dist/ is left alone; returns that
 * folder. Users run the compiled JavaScript, which also spares bootstation Node's type stripper.
 */
export async function buildBootstation(): Promise<string> {
  const dir = resolve('bench/.build');
  await runChecked([process.execPath, resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dir], { timeoutMs: 300_000 });
  return dir;
}

/** The Node options `npm start` (and the Docker image) run bootstation with, e.g. the young-generation cap. */
async function startNodeOptions(): Promise<string[]> {
  const start = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.split(/\s+/);
  if (words[0] !== 'node') throw new Error(`package.json's start script does not run node: ${start}`);
  return words.slice(1).filter((word) => word.startsWith('--'));
}

/** Creates both namespace pairs and starts every server (bootstation from the build in `buildDir`); BENCH_CPU_PROF=<dir> runs bootstation under `node --cpu-prof`. */
export async function startServers(fixtures: Fixtures, buildDir: string): Promise<Servers> {
  const bs = await createNetnsPair('bsbench-bs', 0);
  const peer = await createNetnsPair('bsbench-peer', 1);
  const started: ServerProcess[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(started.map((server) => server.stop()));
    await removeNetnsPair(bs);
    await removeNetnsPair(peer);
  };
  try {
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.BENCH_CPU_PROF)] : [];
    const bootstation = startServer(
      'bootstation',
      inNetns(bs.server, [
        process.execPath, ...(await startNodeOptions()), ...profile, join(buildDir, 'cli/main.js'), 'serve',
        '--config', fixtures.config, '--data', fixtures.data,
        '--interface', bs.serverInterface, '--address', bs.serverAddress,
        '--http-port', String(PORTS.http), '--tftp-port', String(PORTS.tftp), '--dhcp-port', String(PORTS.dhcp), '--pxe-port', String(PORTS.pxe),
      ]),
      join(fixtures.work, 'bootstation.log'),
      { ...process.env, BOOTSTATION_LOG_LEVEL: 'info' },
    );
    started.push(bootstation);
    const dnsmasq = startServer('dnsmasq', inNetns(peer.server, ['dnsmasq', '--keep-in-foreground', `--conf-file=${await writeDnsmasqConfig(fixtures, peer)}`]), join(fixtures.work, 'dnsmasq.out'));
    started.push(dnsmasq);
    const tftpdHpa = startServer('tftpd-hpa', inNetns(peer.server, ['in.tftpd', '-L', '-s', fixtures.tftpRoot, '-a', `${peer.serverAddress}:${PORTS.tftpdHpa}`]), join(fixtures.work, 'tftpd-hpa.log'));
    started.push(tftpdHpa);
    const nginx = startServer('nginx', inNetns(peer.server, ['nginx', '-p', join(fixtures.work, 'nginx'), '-c', await writeNginxConfig(fixtures, peer), '-e', join(fixtures.work, 'nginx', 'error.log')]), join(fixtures.work, 'nginx.out'));
    started.push(nginx);
    await waitFor('bootstation to listen', async () => (await listening(bs.server, 'tcp', bs.serverAddress, PORTS.http)) && (await listening(bs.server, 'udp', bs.serverAddress, PORTS.pxe)), 30_000);
    await waitFor('dnsmasq to listen', () => listening(peer.server, 'udp', peer.serverAddress, PORTS.tftp));
    await waitFor('tftpd-hpa to listen', () => listening(peer.server, 'udp', peer.serverAddress, PORTS.tftpdHpa));
    await waitFor('nginx to listen', () => listening(peer.server, 'tcp', peer.serverAddress, PORTS.http));
    return { bs, peer, bootstation, dnsmasq, tftpdHpa, nginx, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** dnsmasq as the seed ran it: TFTP from the same folder, ProxyDHCP with the seed's pxe-service lines, no DNS. */
async function writeDnsmasqConfig(fixtures: Fixtures, pair: NetnsPair): Promise<string> {
  const path = join(fixtures.work, 'dnsmasq.conf');
  await writeFile(
    path,
    [
      'port=0',
      `interface=${pair.serverInterface}`,
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'user=root',
      `pid-file=${join(fixtures.work, 'dnsmasq.pid')}`,
      `log-facility=${join(fixtures.work, 'dnsmasq.log')}`,
      'enable-tftp',
      `tftp-root=${fixtures.tftpRoot}`,
      `dhcp-range=${pair.serverAddress.replace(/\.1$/, '.0')},proxy`,
      'dhcp-match=set:ipxe,175',
      `dhcp-boot=tag:ipxe,http://${pair.serverAddress}:${PORTS.http}/boot.ipxe`,
      'pxe-service=tag:!ipxe,x86PC,"Network boot",undionly.kpxe',
      '',
    ].join('\n'),
  );
  return path;
}

/** nginx in the foreground with sendfile, its pid and temp paths under the work dir, the same folder as bootstation. */
async function writeNginxConfig(fixtures: Fixtures, pair: NetnsPair): Promise<string> {
  const prefix = join(fixtures.work, 'nginx');
  await mkdir(prefix, { recursive: true });
  const path = join(prefix, 'nginx.conf');
  const temp = (name: string): string => `${name}_temp_path ${join(prefix, name)};`;
  await writeFile(
    path,
    `daemon off;
user root;
worker_processes auto;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')};
events { worker_connections 1024; }
http {
  access_log ${join(prefix, 'access.log')};
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  server {
    listen ${pair.serverAddress}:${PORTS.http};
    root ${fixtures.www};
  }
}
`,
  );
  return path;
}
