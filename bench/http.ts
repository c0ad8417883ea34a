// Scenario 4: a 1 GiB file over HTTP with wrk, one stream and 32 streams, and 1 MiB Range requests; peer nginx.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alternate, figure, inNetns, runChecked } from './lib.ts';
import type { Row } from './report.ts';
import { HTTP_FILE, PORTS, type Fixtures, type Servers } from './servers.ts';

/** What wrk-report.lua prints. */
interface WrkTotals {
  bytes: number;
  durationUs: number;
  requests: number;
  errors: number;
}

const RANGE_BYTES = 1 << 20;

/** Scenario 4 rows: MB/s for 1 and 32 streams, Range requests per second. */
export async function httpThroughput(servers: Servers, fixtures: Fixtures, rounds: number): Promise<Row[]> {
  const fileBytes = (await stat(join(fixtures.www, HTTP_FILE))).size;
  const urls = {
    bootstation: { ns: servers.bs.server, url: `http://${servers.bs.serverAddress}:${PORTS.http}/images/bench/${HTTP_FILE}` },
    nginx: { ns: servers.peer.server, url: `http://${servers.peer.serverAddress}:${PORTS.http}/${HTTP_FILE}` },
  };
  // Both must answer a Range with exactly the bytes asked for, or the figures below compare different work.
  for (const { ns, url } of Object.values(urls)) {
    const probe = await runChecked(inNetns(ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-r', `${RANGE_BYTES}-${2 * RANGE_BYTES - 1}`, url]));
    if (probe.stdout !== `206 ${RANGE_BYTES}`) throw new Error(`${url} answered a Range request with ${probe.stdout}`);
  }
  const wrk = async (contender: keyof typeof urls, connections: number, seconds: number, range: boolean): Promise<WrkTotals> => {
    const { ns, url } = urls[contender];
    const env = range ? `RANGE_BYTES=${RANGE_BYTES} FILE_BYTES=${fileBytes} ` : '';
    const command = `${env}wrk -t ${Math.min(connections, 2)} -c ${connections} -d ${seconds}s --timeout 300s -s ${resolve('bench/wrk-report.lua')} ${url}`;
    const result = await runChecked(inNetns(ns, ['sh', '-c', command]), { timeoutMs: (seconds + 60) * 1000 });
    const totals = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as WrkTotals;
    if (totals.errors > 0) throw new Error(`wrk against ${contender} had ${totals.errors} errors`);
    return totals;
  };
  const rows: Row[] = [];
  for (const streams of [1, 32]) {
    const samples = await alternate(rounds, ['bootstation', 'nginx'] as const, async (contender) => {
      const totals = await wrk(contender, streams, 8, false);
      return totals.bytes / 1e6 / (totals.durationUs / 1e6);
    });
    const bootstation = figure(samples.get('bootstation')!);
    const nginx = figure(samples.get('nginx')!);
    rows.push({
      scenario: '4 HTTP',
      metric: `1 GiB file, ${streams} stream${streams > 1 ? 's' : ''}`,
      unit: 'MB/s',
      higherIsBetter: true,
      bootstation,
      peers: { nginx },
      target: { text: '≥ 0.9× nginx', pass: bootstation.median >= 0.9 * nginx.median },
    });
  }
  const ranges = await alternate(rounds, ['bootstation', 'nginx'] as const, async (contender) => {
    const totals = await wrk(contender, 8, 5, true);
    return totals.requests / (totals.durationUs / 1e6);
  });
  rows.push({
    scenario: '4 HTTP',
    metric: 'random 1 MiB Range requests, 8 connections',
    unit: 'req/s',
    higherIsBetter: true,
    bootstation: figure(ranges.get('bootstation')!),
    peers: { nginx: figure(ranges.get('nginx')!) },
  });
  return rows;
}
