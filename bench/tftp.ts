// Scenarios 1 and 2: TFTP single transfers with atftp (lock-step, windowsize 4 and 16) and a 64-client boot storm.
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { alternate, figure, inNetns, run, runChecked } from './lib.ts';
import type { Row } from './report.ts';
import { PORTS, TFTP_FILES, type Fixtures, type Servers } from './servers.ts';

/** A TFTP server under test: the namespace its clients run in, its address and port. */
interface TftpTarget {
  ns: string;
  address: string;
  port: number;
}

type TftpContender = 'bootstation' | 'dnsmasq' | 'tftpd-hpa';

function targets(servers: Servers): Record<TftpContender, TftpTarget> {
  return {
    bootstation: { ns: servers.bs.server, address: servers.bs.serverAddress, port: PORTS.tftp },
    dnsmasq: { ns: servers.peer.server, address: servers.peer.serverAddress, port: PORTS.tftp },
    'tftpd-hpa': { ns: servers.peer.server, address: servers.peer.serverAddress, port: PORTS.tftpdHpa },
  };
}

// EDK2's PXE asks for blksize 1468 (1500-byte MTU) and, since 2020, windowsize 4.
const BLKSIZE = 1468;

function atftp(target: TftpTarget, file: string, out: string, windowsize: number): string[] {
  const options = ['--option', `blksize ${BLKSIZE}`, ...(windowsize > 1 ? ['--option', `windowsize ${windowsize}`] : [])];
  return inNetns(target.ns, ['atftp', '--get', '-r', file, '-l', out, ...options, target.address, String(target.port)]);
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

// A transfer of ipxe.efi takes 20–70 ms, and whether the scheduler puts client and server on one vCPU or on
// two changes that by 3× (one vCPU: no wake-up across CPUs); so a sample is as many back-to-back transfers
// as make 8 MiB, timed together, and the median compares servers rather than scheduling luck.
const SAMPLE_BYTES = 8 << 20;
const transfersPerSample = (bytes: number): number => Math.max(1, Math.ceil(SAMPLE_BYTES / bytes));

/** Scenario 1: one transfer at a time of ipxe.efi and the 32 MiB file, lock-step and windowsize 4 and 16; MB/s. */
export async function tftpSingle(servers: Servers, fixtures: Fixtures, scratch: string, rounds: number): Promise<Row[]> {
  const all = targets(servers);
  const rows: Row[] = [];
  for (const file of [TFTP_FILES.ipxe, TFTP_FILES.big]) {
    const expected = await sha256(join(fixtures.tftpRoot, file));
    const bytes = (await stat(join(fixtures.tftpRoot, file))).size;
    for (const windowsize of [1, 4, 16]) {
      const out = join(scratch, 'single.bin');
      const samples = await alternate(rounds, ['bootstation', 'dnsmasq', 'tftpd-hpa'] as const, async (contender) => {
        let ms = 0;
        for (let transfer = 0; transfer < transfersPerSample(bytes); transfer++) {
          await rm(out, { force: true });
          ms += (await runChecked(atftp(all[contender], file, out, windowsize), { timeoutMs: 120_000 })).ms;
          if ((await sha256(out)) !== expected) throw new Error(`TFTP ${contender}: ${file} arrived with a wrong checksum`);
        }
        return (transfersPerSample(bytes) * bytes) / 1e6 / (ms / 1000);
      });
      const mode = windowsize === 1 ? 'lock-step' : `windowsize ${windowsize}`;
      const dnsmasq = figure(samples.get('dnsmasq')!);
      const bootstation = figure(samples.get('bootstation')!);
      const wanted = windowsize === 1 ? 1 : windowsize === 4 ? 2 : undefined;
      rows.push({
        scenario: '1 TFTP single',
        metric: `${file} (${(bytes / 2 ** 20).toFixed(1)} MiB${transfersPerSample(bytes) > 1 ? ` × ${transfersPerSample(bytes)} per sample` : ''}), blksize ${BLKSIZE}, ${mode}`,
        unit: 'MB/s',
        higherIsBetter: true,
        bootstation,
        peers: { dnsmasq, 'tftpd-hpa': figure(samples.get('tftpd-hpa')!) },
        ...(wanted !== undefined ? { target: { text: `≥ ${wanted}× dnsmasq`, pass: bootstation.median >= wanted * dnsmasq.median } } : {}),
      });
    }
  }
  return rows;
}

// Datagrams sent in the namespace, client and server together (/proc/net/snmp is per network namespace).
async function udpOutDatagrams(ns: string): Promise<number> {
  const snmp = (await runChecked(inNetns(ns, ['cat', '/proc/net/snmp']))).stdout;
  const [names, values] = snmp.split('\n').filter((line) => line.startsWith('Udp:'));
  const index = names!.trim().split(/\s+/).indexOf('OutDatagrams');
  return Number(values!.trim().split(/\s+/)[index]);
}

const STORM_CLIENTS = 64;
// A client that waited longer than this was not served at once (atftp resends its request after 5 s).
const DELAYED_MS = 2000;
// Time for all clients to be spawned and parked on the start line (64 process starts on 2 cores take well under 1 s).
const PARK_MS = 1500;

/** Scenario 2: 64 atftp clients fetch ipxe.efi at once (lock-step, blksize 1468) from bootstation and from dnsmasq. */
export async function tftpStorm(servers: Servers, fixtures: Fixtures, scratch: string, rounds: number): Promise<Row[]> {
  const all = targets(servers);
  const file = TFTP_FILES.ipxe;
  const expected = await sha256(join(fixtures.tftpRoot, file));
  const bytes = (await stat(join(fixtures.tftpRoot, file))).size;
  // Lock-step minimum per transfer: RRQ, OACK, ACK 0, then one DATA and one ACK per block.
  const minimumDatagrams = STORM_CLIENTS * (3 + 2 * (Math.floor(bytes / BLKSIZE) + 1));
  const failures = new Map<string, number[]>();
  const extra = new Map<string, number[]>();
  const delayed = new Map<string, number[]>();
  const times = await alternate(rounds, ['bootstation', 'dnsmasq'] as const, async (contender) => {
    const target = all[contender];
    // Every client waits on a FIFO until all have started, so the 64 requests really arrive together rather than
    // at the pace processes can be spawned. Held open read-write here, the FIFO never hits end-of-file early.
    const startLine = join(scratch, 'storm.fifo');
    await rm(startLine, { force: true });
    await runChecked(['mkfifo', startLine]);
    const gate = openSync(startLine, 'r+');
    const before = await udpOutDatagrams(target.ns);
    let started = 0;
    const clients = Array.from({ length: STORM_CLIENTS }, async (_, index) => {
      const out = join(scratch, `storm-${index}.bin`);
      await rm(out, { force: true });
      const result = await run(['sh', '-c', 'read line < "$0" && exec "$@"', startLine, ...atftp(target, file, out, 1)], { timeoutMs: 120_000 });
      const ms = performance.now() - started;
      return { intact: result.code === 0 && (await sha256(out).catch(() => '')) === expected, ms };
    });
    await sleep(PARK_MS);
    started = performance.now();
    writeSync(gate, '\n'.repeat(STORM_CLIENTS));
    const results = await Promise.all(clients);
    closeSync(gate);
    // The last client's exit, not the checksums computed after it.
    const seconds = Math.max(...results.map((result) => result.ms)) / 1000;
    const sent = (await udpOutDatagrams(target.ns)) - before;
    failures.set(contender, [...(failures.get(contender) ?? []), results.filter((result) => !result.intact).length]);
    extra.set(contender, [...(extra.get(contender) ?? []), Math.max(0, sent - minimumDatagrams)]);
    delayed.set(contender, [...(delayed.get(contender) ?? []), results.filter((result) => result.ms > DELAYED_MS).length]);
    return seconds;
  });
  const of = (map: Map<string, number[]>, name: string) => figure(map.get(name)!);
  const bootstationFailures = of(failures, 'bootstation');
  return [
    {
      scenario: '2 TFTP storm',
      metric: `${STORM_CLIENTS} clients × ${file}, total time`,
      unit: 's',
      higherIsBetter: false,
      bootstation: figure(times.get('bootstation')!),
      peers: { dnsmasq: figure(times.get('dnsmasq')!) },
      note: `clients served late (> ${DELAYED_MS / 1000} s): bootstation ${of(delayed, 'bootstation').max}, dnsmasq ${of(delayed, 'dnsmasq').max} (dnsmasq --tftp-max defaults to 50)`,
    },
    {
      scenario: '2 TFTP storm',
      metric: 'failed transfers (exit code or checksum)',
      unit: 'count',
      higherIsBetter: false,
      bootstation: bootstationFailures,
      peers: { dnsmasq: of(failures, 'dnsmasq') },
      target: { text: '0 failures', pass: bootstationFailures.max === 0 },
    },
    {
      scenario: '2 TFTP storm',
      metric: 'retransmitted datagrams (sent beyond the lock-step minimum)',
      unit: 'count',
      higherIsBetter: false,
      bootstation: of(extra, 'bootstation'),
      peers: { dnsmasq: of(extra, 'dnsmasq') },
    },
  ];
}
