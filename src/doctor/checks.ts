// The doctor's judgements: each takes what was found (ports, addresses, answers, files) and says, in one line
// each, whether it is fine and how to fix it if not. Pure: the command does all the looking.
import { PLATFORMS, type Platform } from '../boot/platform.ts';
import type { ImageStatus } from '../ingest/image-status.ts';
import { STOCK_IPXE_FIX, STOCK_IPXE_LACKS_TEXT, type IpxeBinaries } from '../ipxe/binaries.ts';
import { missingFirstStages } from '../ipxe/missing-first-stages.ts';
import type { PxeAnswer } from './pxe-answers.ts';

/** fail makes `bootstation doctor` exit 1; warn is worth knowing but does not stop a PC from booting. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

/** A port bootstation needs. */
export interface WantedPort {
  protocol: 'udp' | 'tcp';
  port: number;
  service: string;
}

/** A process holding a port; pid and command are unknown when /proc/<pid>/fd cannot be read (not root). */
export interface PortHolder {
  address: string;
  pid?: number;
  command?: string;
  /** Its command line names bootstation: our own server is running. */
  bootstation: boolean;
}

/** The report line: "FAIL ports: UDP 67 … — fix: …". */
export function formatCheckLine(result: CheckResult): string {
  const status = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' }[result.status];
  return `${status} ${result.check}: ${result.message}${result.fix ? ` — fix: ${result.fix}` : ''}`;
}

/** The exit code of a report: 1 when any check failed. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((result) => result.status === 'fail') ? 1 : 0;
}

/** Whether a port is free, held by bootstation itself (serving), or taken by something else. */
export function checkPort(wanted: WantedPort, holders: readonly PortHolder[]): CheckResult {
  const name = `${wanted.protocol.toUpperCase()} ${wanted.port} (${wanted.service})`;
  if (holders.length === 0) return { check: 'ports', status: 'ok', message: `${name} is free` };
  const others = holders.filter((holder) => !holder.bootstation);
  if (others.length === 0) {
    const pids = [...new Set(holders.map((holder) => holder.pid))].join(', ');
    return { check: 'ports', status: 'ok', message: `${name} is held by bootstation (pid ${pids}), which is serving` };
  }
  const who = others.map(describeHolder).join('; ');
  const stop = others.some((holder) => holder.command !== undefined) ? `stop ${[...new Set(others.map((holder) => holder.command).filter(Boolean))].join(', ')}` : 'find the program with `sudo ss -lunp` or `sudo ss -ltnp` and stop it';
  const fix =
    wanted.protocol === 'tcp'
      ? `${stop}, or set server.http_port (or --http-port) to a free port and rebuild iPXE, whose script has the port compiled in`
      : wanted.port === 67 || wanted.port === 4011
        ? `${stop} (PXE clients only ask on ports 67 and 4011), or use proxy_dhcp: false and let that server hand out next-server and the boot file`
        : `${stop} (PXE firmware only asks on port 69)`;
  return { check: 'ports', status: 'fail', message: `${name} is held by ${who}`, fix };
}

function describeHolder(holder: PortHolder): string {
  if (holder.pid === undefined) return `a process this user cannot see, on ${holder.address} (run as root to name it)`;
  return `${holder.command ?? 'an unnamed process'} (pid ${holder.pid}) on ${holder.address}`;
}

/** What the doctor found about the serving interface and address. */
export type InterfaceFinding =
  | { ok: true; interface?: string; address: string; source: string; onThisHost: boolean }
  | { ok: false; message: string };

/** Whether bootstation has an interface and an address of this host to serve on. */
export function checkInterface(found: InterfaceFinding): CheckResult {
  if (!found.ok) return { check: 'interface', status: 'fail', message: found.message, fix: 'set server.interface or server.address in images.yaml, or pass --interface / --address' };
  if (!found.onThisHost) {
    return { check: 'interface', status: 'fail', message: `address ${found.address} is not on any interface of this host`, fix: 'set server.address (or --address) to one of the addresses `ip -4 addr` lists' };
  }
  return { check: 'interface', status: 'ok', message: `serving on ${found.interface ?? 'an unnamed interface'} with address ${found.address} (${found.source})` };
}

/** What the PXE probe heard, or why it did not run. */
export type PxeProbeFinding = { skipped: string } | { interface: string; seconds: number; answers: readonly PxeAnswer[] };

/** One line per answer to our PXE DISCOVER: other ProxyDHCP servers and routers that send boot options fail. */
export function checkPxeServers(found: PxeProbeFinding, ourAddress: string | undefined): CheckResult[] {
  if ('skipped' in found) return [{ check: 'pxe', status: 'warn', message: `no PXE DISCOVER sent: ${found.skipped}` }];
  if (found.answers.length === 0) {
    return [{
      check: 'pxe',
      status: 'warn',
      message: `nothing answered a PXE DISCOVER on ${found.interface} within ${found.seconds} s, not even a DHCP server`,
      fix: 'PCs need a DHCP server for their address (usually the router); check that it runs and serves this network',
    }];
  }
  return found.answers.map((answer): CheckResult => {
    const menu = answer.menu.length > 0 ? `PXE menu ${answer.menu.map((item) => JSON.stringify(item.description.slice(0, 40))).join(', ')}` : answer.pxeOptions ? 'PXE options (43)' : undefined;
    const boot = [answer.bootFile === undefined ? undefined : `boot file ${JSON.stringify(answer.bootFile.slice(0, 128))}`, answer.nextServer === undefined ? undefined : `next-server ${answer.nextServer}`, menu]
      .filter(Boolean)
      .join(', ');
    if (answer.server === ourAddress) return { check: 'pxe', status: 'ok', message: `bootstation itself answers at ${answer.server}${boot ? ` (${boot})` : ''}` };
    if (answer.kind === 'proxy-dhcp') {
      return {
        check: 'pxe',
        status: 'fail',
        message: `another ProxyDHCP server at ${answer.server} answers PXE clients${boot ? ` with ${boot}` : ''}`,
        fix: `stop the PXE service on ${answer.server} (for dnsmasq: remove its dhcp-range=…,proxy and pxe-service lines); PCs take whichever answer comes first`,
      };
    }
    if (boot) {
      return {
        check: 'pxe',
        status: 'fail',
        message: `the DHCP server at ${answer.server} already sends PXE clients ${boot}`,
        fix: `remove the next-server/boot file (options 66, 67) from ${answer.server}'s DHCP settings, or set proxy_dhcp: false and point them at bootstation`,
      };
    }
    return { check: 'pxe', status: 'ok', message: `the DHCP server at ${answer.server} offers addresses${answer.offered ? ` (${answer.offered})` : ''} without boot options, as bootstation expects` };
  });
}

/** One line per firmware: is its first-stage binary there; and one on whose binaries they are. */
export function checkIpxeBinaries(ipxe: IpxeBinaries): CheckResult[] {
  const results: CheckResult[] = [];
  switch (ipxe.kind) {
    case 'own-build':
      results.push({ check: 'ipxe', status: 'ok', message: `bootstation's own iPXE build ${ipxe.build.version} (keymap ${ipxe.build.keymap}) in ${ipxe.dir}` });
      break;
    case 'custom':
      results.push({ check: 'ipxe', status: 'ok', message: `custom iPXE binaries in ${ipxe.dir} (no manifest.json of a bootstation build)` });
      break;
    case 'stock':
      results.push({ check: 'ipxe', status: 'warn', message: `Debian's stock iPXE binaries in ${ipxe.dir} lack ${STOCK_IPXE_LACKS_TEXT}`, fix: STOCK_IPXE_FIX });
      break;
  }
  // Each platform's first stage, named as the platform table names it; BIOS and x64 UEFI are the PCs one meets.
  const missing = new Map(missingFirstStages(ipxe).map((row) => [row.file, row]));
  for (const { displayName, firstStage, architectures } of PLATFORMS) {
    const absent = missing.get(firstStage);
    if (absent === undefined) results.push({ check: 'ipxe', status: 'ok', message: `${displayName} clients get ${firstStage} (${transportsOf(architectures)})` });
    else results.push({ check: 'ipxe', status: absent.required ? 'fail' : 'warn', message: `${displayName}: ${firstStage} missing from ${ipxe.dir}, so these clients get no answer`, fix: absent.fix });
  }
  return results;
}

/** How a platform's clients reach its first stage: "PXE", or "PXE and UEFI HTTP Boot". */
function transportsOf(architectures: Platform['architectures']): string {
  return architectures.http.length > 0 ? 'PXE and UEFI HTTP Boot' : 'PXE';
}

/** What fetching <url>/healthz from this host gave. */
export type HttpFinding = { url: string } & ({ status: 'ok' } | { status: 'refused'; portFree: boolean } | { status: 'error'; message: string });

/** Whether the URL clients are given answers from this host. */
export function checkHttp(found: HttpFinding): CheckResult {
  if (found.status === 'ok') return { check: 'http', status: 'ok', message: `${found.url} answers as bootstation` };
  if (found.status === 'refused' && found.portFree) {
    return { check: 'http', status: 'warn', message: `nothing serves ${found.url} yet`, fix: 'start `bootstation serve` and run the doctor again to check that clients can reach it' };
  }
  const why = found.status === 'refused' ? 'the connection was refused' : found.message;
  return { check: 'http', status: 'fail', message: `${found.url} is not reachable from this host: ${why}`, fix: 'check the address (server.address), the port and any firewall (`nft list ruleset`)' };
}

/** One line per configured image: ready, or what is missing and the command that fixes it. */
export function checkImages(statuses: readonly ImageStatus[]): CheckResult[] {
  if (statuses.length === 0) return [{ check: 'images', status: 'warn', message: 'images.yaml has no images: the menu offers only the shell, local disk and reboot', fix: 'add images (see README, images.yaml)' }];
  return statuses.map((image): CheckResult => {
    switch (image.state) {
      case 'ready':
        return { check: 'images', status: 'ok', message: `${image.id} is ready${image.version ? ` (${image.version})` : ''}` };
      case 'not ingested':
        return { check: 'images', status: 'fail', message: `${image.id} is configured but not ingested`, fix: `run \`bootstation ingest ${image.id}\`` };
      case 'failed':
        return { check: 'images', status: 'fail', message: `${image.id}: its last ingest failed: ${image.failure?.message ?? 'unknown reason'}`, fix: `fix the cause, then run \`bootstation ingest ${image.id}\`` };
      case 'missing files':
        return {
          check: 'images',
          status: 'fail',
          message: `${image.id} is missing ${image.missingFiles.join(', ')}`,
          fix: image.source === 'dir' ? 'put the files into its source.dir, or correct boot.kernel / boot.initrd' : `run \`bootstation ingest --force ${image.id}\``,
        };
    }
  });
}
