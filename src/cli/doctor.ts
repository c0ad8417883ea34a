// `bootstation doctor`: gathers what serve would use, runs the checks and prints one line per check.
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { checkHttp, checkImages, checkInterface, checkIpxeBinaries, checkPort, checkPxeServers, doctorExitCode, formatCheckLine, type CheckResult, type HttpFinding, type InterfaceFinding, type PxeProbeFinding, type WantedPort } from '../doctor/checks.ts';
import { dataLayout } from '../files/data-dir.ts';
import { findPortHolders } from '../doctor/port-holders.ts';
import { probePxeServers } from '../doctor/pxe-probe.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { findIpxeBinaries } from '../ipxe/binaries.ts';
import { interfaceOf, resolveServingAddress } from '../net/interfaces.ts';
import type { ServeOptions } from './serve.ts';

/** Options of `bootstation doctor`: the same network settings as serve, so it checks what serve would use. */
export interface DoctorOptions extends ServeOptions {
  /** How long to listen for answers to the PXE DISCOVER. */
  probeMs?: number;
}

// Servers answer a DISCOVER within milliseconds; PXE ROMs themselves wait about 4 s for the first answers.
const PROBE_MS = 3000;
const HTTP_TIMEOUT_MS = 3000;

/** `bootstation doctor`: prints one line per check with its fix; exit 0 when nothing failed, 1 otherwise. */
export async function runDoctor(options: DoctorOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const config = await loadConfigFile(options.configPath, { dataDir });
  const httpPort = options.httpPort ?? config.server.httpPort;
  const proxyDhcp = options.proxyDhcp ?? config.server.proxyDhcp;
  const results: CheckResult[] = [];
  const report = (found: CheckResult | readonly CheckResult[]): void => {
    for (const result of Array.isArray(found) ? found : [found as CheckResult]) {
      results.push(result);
      write(`${formatCheckLine(result)}\n`);
    }
  };

  const wanted: WantedPort[] = [
    ...(proxyDhcp ? [{ protocol: 'udp', port: options.dhcpPort, service: 'ProxyDHCP' } as const, { protocol: 'udp', port: options.pxePort, service: 'PXE boot server' } as const] : []),
    { protocol: 'udp', port: options.tftpPort, service: 'TFTP' },
    { protocol: 'tcp', port: httpPort, service: 'HTTP' },
  ];
  const holders = await findPortHolders(wanted);
  wanted.forEach((port, index) => report(checkPort(port, holders[index] ?? [])));

  const serving = await findInterface(options.interface ?? config.server.interface, options.address ?? config.server.address);
  report(checkInterface(serving));
  const address = serving.ok ? serving.address : undefined;

  report(checkPxeServers(await probe(serving, options.probeMs ?? PROBE_MS), address));
  report(checkIpxeBinaries(await findIpxeBinaries(dataLayout(dataDir).ipxe)));
  if (address !== undefined) {
    const httpHolders = holders[wanted.findIndex((port) => port.protocol === 'tcp')] ?? [];
    report(checkHttp(await fetchHealth(`http://${address}${httpPort === 80 ? '' : `:${httpPort}`}`, httpHolders.length === 0)));
  }
  report(checkImages(await readImageStatuses(config, dataDir)));
  const failed = results.filter((result) => result.status === 'fail').length;
  write(failed === 0 ? 'doctor: all checks passed\n' : `doctor: ${failed} check${failed === 1 ? '' : 's'} failed\n`);
  return doctorExitCode(results);
}

async function findInterface(wantedInterface: string | undefined, wantedAddress: string | undefined): Promise<InterfaceFinding> {
  try {
    const serving = await resolveServingAddress({ interface: wantedInterface, address: wantedAddress });
    return { ok: true, ...serving, onThisHost: interfaceOf(serving.address) !== undefined };
  } catch (error) {
    return { ok: false, message: (error as Error).message.replace(/\.$/, '') };
  }
}

async function probe(serving: InterfaceFinding, waitMs: number): Promise<PxeProbeFinding> {
  if (!serving.ok || serving.interface === undefined || !serving.onThisHost) return { skipped: 'no interface of this host to ask on (see the interface check)' };
  if (process.getuid?.() !== 0) return { skipped: 'it goes out from UDP port 68 as a PC sends it, which needs root; run `sudo bootstation doctor`' };
  const mac = networkInterfaces()[serving.interface]?.find((entry) => entry.family === 'IPv4')?.mac;
  if (mac === undefined) return { skipped: `interface ${serving.interface} has no MAC address` };
  try {
    return { interface: serving.interface, seconds: waitMs / 1000, answers: await probePxeServers({ address: serving.address, mac, waitMs }) };
  } catch (error) {
    return { skipped: (error as Error).message.replace(/\.$/, '') };
  }
}

async function fetchHealth(url: string, portFree: boolean): Promise<HttpFinding> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    const body = (await response.json().catch(() => undefined)) as { status?: unknown } | undefined;
    if (response.ok && body?.status === 'ok') return { url, status: 'ok' };
    return { url, status: 'error', message: `${url}/healthz answered HTTP ${response.status}, not as bootstation` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') return { url, status: 'refused', portFree };
    return { url, status: 'error', message: cause?.code ?? (error as Error).message };
  }
}
