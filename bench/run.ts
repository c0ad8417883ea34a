// `npm run bench [-- --rounds N --only tftp,storm,dhcp,http,ingest --json FILE]`: bootstation against the seed's
// stack (dnsmasq, tftpd-hpa, nginx, xorriso, bsdtar) on this machine; prints the table and writes a JSON file.
// Needs root (network namespaces) and the packages in lib.ts; everything it starts is stopped and removed at the end.
import { cpus } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dhcpLoad } from './dhcp.ts';
import { httpThroughput } from './http.ts';
import { ingestExtraction } from './ingest.ts';
import { figure, missingPackages, peakRss, resetPeakRss, run, stopAll } from './lib.ts';
import { renderTable, type Row } from './report.ts';
import { buildBootstation, createFixtures, startServers } from './servers.ts';
import { tftpSingle, tftpStorm } from './tftp.ts';

const SCENARIOS = ['tftp', 'storm', 'dhcp', 'http', 'ingest'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    only: { type: 'string', default: SCENARIOS.join(',') },
    json: { type: 'string', default: 'bench/results.json' },
  },
});
const rounds = Number(values.rounds);
const only = new Set(values.only.split(',') as Scenario[]);
if (!Number.isInteger(rounds) || rounds < 1 || [...only].some((name) => !SCENARIOS.includes(name))) {
  process.stderr.write(`usage: npm run bench -- [--rounds N] [--only ${SCENARIOS.join(',')}] [--json FILE]\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('npm run bench needs root: it creates network namespaces and binds ports 67, 69 and 4011 inside them.\n');
  process.exit(2);
}
const missing = await missingPackages();
if (missing.length > 0) {
  process.stderr.write(`npm run bench needs these Debian packages: apt-get install ${missing.join(' ')}\n`);
  process.exit(2);
}

const load = async (): Promise<string> => (await run(['uptime'])).stdout.trim();
const machine = { nproc: cpus().length, node: process.version, started: new Date().toISOString(), loadBefore: await load() };
process.stdout.write(`nproc ${machine.nproc}, Node ${machine.node}, ${machine.loadBefore}\n`);

// Large files go to disk; client outputs to tmpfs, so the clients' writes do not limit what is measured.
const work = await mkdtemp('/var/tmp/bsbench-');
const scratch = await mkdtemp('/dev/shm/bsbench-');
const rows: Row[] = [];
let servers: Awaited<ReturnType<typeof startServers>> | undefined;
const cleanUp = async (): Promise<void> => {
  await servers?.close();
  await stopAll();
  await rm(work, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

try {
  const step = (text: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
  step('creating fixtures (1 GiB and 32 MiB random files)');
  const fixtures = await createFixtures(work);
  step('building bootstation (tsconfig.build.json, as npm start does)');
  const build = await buildBootstation();
  step('starting bootstation, dnsmasq, tftpd-hpa, nginx in namespaces bsbench-bs and bsbench-peer');
  const running = await startServers(fixtures, build);
  servers = running;
  const pid = running.bootstation.child.pid!;
  if (only.has('tftp')) {
    step('scenario 1: TFTP single transfers');
    rows.push(...(await tftpSingle(running, fixtures, scratch, rounds)));
  }
  // Scenario 5: bootstation's peak RSS over scenarios 2–4, reset before each so every scenario's own peak shows too.
  const peaks: Record<string, number> = {};
  const middle = [
    ['storm', 'scenario 2: TFTP boot storm', () => tftpStorm(running, fixtures, scratch, Math.min(rounds, 3))],
    ['dhcp', 'scenario 3: ProxyDHCP', () => dhcpLoad(running, Math.min(rounds, 3))],
    ['http', 'scenario 4: HTTP', () => httpThroughput(running, fixtures, Math.min(rounds, 3))],
  ] as const;
  for (const [name, title, measure] of middle) {
    if (!only.has(name)) continue;
    step(title);
    await resetPeakRss(pid);
    rows.push(...(await measure()));
    peaks[name] = (await peakRss(pid)) / 2 ** 20;
  }
  if (Object.keys(peaks).length > 0) {
    const peak = Math.max(...Object.values(peaks));
    rows.push({
      scenario: '5 memory',
      metric: 'bootstation peak RSS (VmHWM) during scenarios 2–4',
      unit: 'MiB',
      higherIsBetter: false,
      bootstation: figure([peak]),
      peers: {},
      target: { text: '< 200 MB', pass: peak * 2 ** 20 < 200e6 },
      note: `peak per scenario: ${Object.entries(peaks).map(([name, value]) => `${name} ${value.toFixed(0)} MiB`).join(', ')}`,
    });
  }
  await running.close();
  servers = undefined;
  if (only.has('ingest')) {
    step('scenario 6: ingest');
    rows.push(...(await ingestExtraction(fixtures, scratch, Math.min(rounds, 3), build)));
  }
  const table = renderTable(rows);
  const finished = { ...machine, finished: new Date().toISOString(), loadAfter: await load(), rounds };
  process.stdout.write(`\n${table}\n\nload after: ${finished.loadAfter}\n`);
  await writeFile(values.json, `${JSON.stringify({ machine: finished, rows }, null, 2)}\n`);
  step(`wrote ${values.json}`);
} finally {
  await cleanUp();
}
