// A running lab: its network and the router's plain DHCP server, the processes and VMs started in it, and teardown.
import { copyFile, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderRouterDnsmasqConfig } from './dnsmasq-config.ts';
import { setupLabNetwork, teardownLabNetwork } from './network.ts';
import { startProcess, tailFile, type LabProcess } from './processes.ts';
import { qemuCommand, UEFI_FILES, uefiFirmware } from './qemu-args.ts';
import { firmwareGaveUp, readSerialReport, type SerialReport } from './serial-report.ts';
import { commandInHost, labTopology, type LabEntry, type LabFirmware, type LabTopology } from './topology.ts';

/** Where a lab runs: its namespace prefix and a folder for its configs, logs and serial consoles. */
export interface LabOptions {
  prefix: string;
  workDir: string;
}

/** How to run `bootstation serve` inside the NAS namespace. */
export interface LabBootstationOptions {
  /** The bootstation executable as an argv, e.g. [process.execPath, '…/src/cli/main.ts']. */
  command: readonly string[];
  configPath: string;
  dataDir: string;
  /** Undefined: server.http_port from the config. */
  httpPort?: number;
  /** false: serve with --no-proxy-dhcp (TFTP and HTTP only). */
  proxyDhcp?: boolean;
  /** BOOTSTATION_LOG_LEVEL; debug logs every ProxyDHCP answer and TFTP read request. Undefined: info. */
  logLevel?: 'debug' | 'info';
}

/** A VM of the lab, netbooting through its tap device. */
export interface LabVm {
  firmware: LabFirmware;
  serialLog: string;
  process: LabProcess;
}

/** How waiting for a VM's serial console ended. */
export interface SerialWait {
  outcome: 'matched' | 'vm-exited' | 'firmware-gave-up' | 'timeout';
  report: SerialReport;
  serial: string;
  elapsedMs: number;
}

/** A running lab: the network, the router's DHCP, and whatever was started in it. */
export interface Lab {
  topology: LabTopology;
  workDir: string;
  /** dnsmasq's log of the router (every DHCP exchange, with log-dhcp). */
  routerLog: string;
  /** bootstation's JSON log lines. */
  bootstationLog: string;
  /** Starts bootstation in the NAS namespace and resolves once it logs that it is serving. */
  startBootstation(options: LabBootstationOptions): Promise<LabProcess>;
  /** Starts any command in one of the lab's hosts, its output in <workDir>/<name>.log (see LabEntry for `entry`). */
  startIn(host: keyof LabTopology['namespaces'], name: string, argv: readonly string[], entry?: LabEntry): Promise<LabProcess>;
  /** Powers on a VM of the given firmware; its serial console goes to <workDir>/serial-<firmware>.log. */
  startVm(firmware: LabFirmware): Promise<LabVm>;
  /** Ends every process and removes the network. Idempotent. */
  close(): Promise<void>;
}

/** Builds the lab network and starts the router's plain DHCP server. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const topology = labTopology(options.prefix);
  const { workDir } = options;
  const processes: LabProcess[] = [];
  // startIn logs each process to <name>.log; bootstation runs under that name.
  const logOf = (name: string): string => join(workDir, `${name}.log`);
  const routerLog = join(workDir, 'router-dnsmasq-dhcp.log');
  const bootstationLog = logOf('bootstation');
  let closed = false;

  const close = async (): Promise<void> => {
    closed = true;
    // VMs first, so nothing asks a server that is already gone.
    const order = [...processes].reverse();
    processes.length = 0;
    for (const child of order) await child.stop();
    await teardownLabNetwork(topology);
  };

  const startIn = async (host: keyof LabTopology['namespaces'], name: string, argv: readonly string[], entry?: LabEntry): Promise<LabProcess> => {
    if (closed) throw new Error('the lab is closed');
    const started = await startProcess(name, commandInHost(topology, host, argv, entry), logOf(name));
    processes.push(started);
    return started;
  };

  await setupLabNetwork(topology);
  try {
    const config = join(workDir, 'router-dnsmasq.conf');
    await writeFile(
      config,
      renderRouterDnsmasqConfig(topology, { leaseFile: join(workDir, 'router.leases'), pidFile: join(workDir, 'router-dnsmasq.pid'), logFile: routerLog }),
    );
    await startIn('router', 'router-dnsmasq', ['dnsmasq', '--keep-in-foreground', `--conf-file=${config}`]);
  } catch (error) {
    await close();
    throw error;
  }

  return {
    topology,
    workDir,
    routerLog,
    bootstationLog,
    startIn,
    close,
    async startBootstation(bootstation) {
      const argv = [
        ...(bootstation.logLevel ? ['env', `BOOTSTATION_LOG_LEVEL=${bootstation.logLevel}`] : []),
        ...bootstation.command,
        'serve',
        '--config', bootstation.configPath,
        '--data', bootstation.dataDir,
        '--interface', topology.hostInterface,
        '--address', topology.subnet.nas,
        ...(bootstation.httpPort === undefined ? [] : ['--http-port', String(bootstation.httpPort)]),
        ...(bootstation.proxyDhcp === false ? ['--no-proxy-dhcp'] : []),
      ];
      const started = await startIn('nas', 'bootstation', argv);
      for (let waited = 0; waited < 30_000; waited += 100) {
        if ((await readFile(bootstationLog, 'utf8').catch(() => '')).includes('"bootstation serving"')) return started;
        if (started.hasExited()) break;
        await sleep(100);
      }
      throw new Error(`bootstation did not start serving in the lab (exit: ${started.hasExited() ? String(await started.exited) : 'still running'}); its log:\n${await tailFile(bootstationLog)}`);
    },
    async startVm(firmware) {
      const vm = topology.vms[firmware];
      const serialLog = join(workDir, `serial-${firmware}.log`);
      await writeFile(serialLog, '');
      let efiVars: string | undefined;
      const uefi = uefiFirmware(firmware);
      if (uefi) {
        efiVars = join(workDir, `efi-vars-${firmware}.fd`);
        await copyFile(UEFI_FILES[uefi].vars, efiVars);
      }
      const { command, args } = qemuCommand({ firmware, tap: vm.tap, mac: vm.mac, serialLog, efiVars });
      const qemu = await startIn('switch', `qemu-${firmware}`, [command, ...args]);
      return { firmware, serialLog, process: qemu };
    },
  };
}

/**
 * Polls a VM's serial log until `until` holds for its report (or its raw text, for output the report does not parse,
 * e.g. memtest86+'s), the VM exits, its firmware gives up, or timeoutMs passes.
 */
export async function waitForSerial(vm: LabVm, until: (report: SerialReport, serial: string) => boolean, timeoutMs: number): Promise<SerialWait> {
  const started = Date.now();
  for (;;) {
    const exitedBefore = vm.process.hasExited();
    const serial = await readFile(vm.serialLog, 'latin1').catch(() => '');
    const report = readSerialReport(serial);
    const elapsedMs = Date.now() - started;
    if (until(report, serial)) return { outcome: 'matched', report, serial, elapsedMs };
    // Read once more after the exit was seen, so the last lines QEMU flushed are not missed.
    if (exitedBefore) return { outcome: 'vm-exited', report, serial, elapsedMs };
    if (firmwareGaveUp(serial)) return { outcome: 'firmware-gave-up', report, serial, elapsedMs };
    if (elapsedMs > timeoutMs) return { outcome: 'timeout', report, serial, elapsedMs };
    await sleep(250);
  }
}

/** Calls onChunk with every byte appended to a file (a VM's serial log) until the returned stop() is awaited. */
export function followFile(path: string, onChunk: (chunk: Buffer) => void, intervalMs = 100): () => Promise<void> {
  let offset = 0;
  let stopped = false;
  const readNew = async (): Promise<void> => {
    const file = await open(path, 'r').catch(() => undefined);
    if (!file) return;
    try {
      for (;;) {
        const { bytesRead, buffer } = await file.read({ buffer: Buffer.alloc(64 * 1024), position: offset });
        if (bytesRead === 0) return;
        offset += bytesRead;
        onChunk(buffer.subarray(0, bytesRead));
      }
    } finally {
      await file.close();
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await readNew();
      await sleep(intervalMs);
    }
    await readNew();
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
