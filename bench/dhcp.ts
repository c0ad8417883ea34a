// Scenario 3: ProxyDHCP under load from simulated PXE clients in a client namespace (dhcp-load.ts): DISCOVER→OFFER
// and REQUEST→ACK latency at 500 DISCOVERs/s, lost answers, and answers per second with 32 clients in flight.
import { resolve } from 'node:path';
import { alternate, figure, inNetns, quantile, runChecked, type NetnsPair } from './lib.ts';
import type { Row, Target } from './report.ts';
import type { Servers } from './servers.ts';

/** What dhcp-load.ts prints. */
interface LoadResult {
  discovers: number;
  offers: number;
  acks: number;
  sendingMs: number;
  answersWhileSending: number;
  offerLatencies: number[];
  ackLatencies: number[];
}

const RATE = 500;
const SECONDS = 5;
const IN_FLIGHT = 32;

async function load(pair: NetnsPair, mode: 'rate' | 'saturate'): Promise<LoadResult> {
  const argument = JSON.stringify({ clientAddress: pair.clientAddress, seconds: SECONDS, rate: RATE, inFlight: IN_FLIGHT });
  const result = await runChecked(inNetns(pair.client, [process.execPath, resolve('bench/dhcp-load.ts'), mode, argument]), { timeoutMs: (SECONDS + 30) * 1000 });
  return JSON.parse(result.stdout) as LoadResult;
}

/** Scenario 3 rows. */
export async function dhcpLoad(servers: Servers, rounds: number): Promise<Row[]> {
  const pairs = { bootstation: servers.bs, dnsmasq: servers.peer };
  const contenders = ['bootstation', 'dnsmasq'] as const;
  const atRate = await alternate(rounds, contenders, (contender) => load(pairs[contender], 'rate'));
  const saturated = await alternate(rounds, contenders, (contender) => load(pairs[contender], 'saturate'));
  const row = (metric: string, unit: string, higherIsBetter: boolean, results: Map<string, LoadResult[]>, value: (result: LoadResult) => number, target?: (max: number) => Target): Row => {
    const bootstation = figure(results.get('bootstation')!.map(value));
    return {
      scenario: '3 ProxyDHCP',
      metric,
      unit,
      higherIsBetter,
      bootstation,
      peers: { dnsmasq: figure(results.get('dnsmasq')!.map(value)) },
      ...(target ? { target: target(bootstation.max) } : {}),
    };
  };
  return [
    row(`DISCOVER→OFFER p50 at ${RATE}/s for ${SECONDS} s`, 'ms', false, atRate, (r) => quantile(r.offerLatencies, 0.5)),
    row(`DISCOVER→OFFER p99 at ${RATE}/s`, 'ms', false, atRate, (r) => quantile(r.offerLatencies, 0.99), (max) => ({ text: '< 5 ms (every round)', pass: max < 5 })),
    row(`REQUEST→ACK (port 4011) p99 at ${RATE}/s`, 'ms', false, atRate, (r) => quantile(r.ackLatencies, 0.99)),
    row(`lost answers (OFFER or ACK) of ${RATE * SECONDS} clients`, 'count', false, atRate, (r) => 2 * r.discovers - r.offers - r.acks, (max) => ({ text: '0 lost', pass: max === 0 })),
    row(`answers/s (OFFER + ACK), ${IN_FLIGHT} clients in flight`, 'answers/s', true, saturated, (r) => r.answersWhileSending / (r.sendingMs / 1000)),
  ];
}
