// Shared pieces of the benchmark: running and stopping processes (optionally inside a network namespace),
// the namespaces themselves, waiting, timing and statistics. Scenario files only describe what they measure.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Result of a command run to completion. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to exit. */
  ms: number;
}

/**
 * The argv that runs `argv` inside network namespace `ns`. nsenter execs the command (so the pid is the command's)
 * and, unlike `ip netns exec`, does not remount /sys, which would add milliseconds to every timed client run.
 */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=/run/netns/${ns}`, ...argv];
}

/** Runs a command to completion with a hard timeout (killed after it, so no scenario can hang the run). */
export function run(argv: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const [command, ...args] = argv;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function runChecked(argv: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} exited ${result.code}: ${result.stderr.trim().slice(0, 500)}`);
  return result;
}

/** A long-running server process started by the benchmark. */
export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** Stops it (SIGTERM, then SIGKILL after 5 s); safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ServerProcess>();

/**
 * Starts a server process with stdout and stderr written straight to `logFile` (the file is its own descriptor, so
 * logging never waits on this process's event loop); stopAll() ends it if nothing else does.
 */
export function startServer(name: string, argv: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ServerProcess {
  const [command, ...args] = argv;
  const log = openSync(logFile, 'a');
  const child = spawn(command!, args, { stdio: ['ignore', log, log], env });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: ServerProcess = {
    name,
    child,
    async stop() {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
  running.add(server);
  return server;
}

/** Stops every server still running (the run's finally block and signal handlers call this). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((server) => server.stop()));
}

/** Polls `ready` every 50 ms until it returns true; throws `what` after timeoutMs. */
export async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** True when something listens on `address:port` for `protocol` inside `ns` (read from ss). */
export async function listening(ns: string, protocol: 'tcp' | 'udp', address: string, port: number): Promise<boolean> {
  const result = await run(inNetns(ns, ['ss', '-Hln', protocol === 'tcp' ? '-t' : '-u']), { timeoutMs: 5000 });
  return result.stdout.split('\n').some((line) => line.split(/\s+/).some((field) => field === `${address}:${port}` || field === `0.0.0.0:${port}` || field === `*:${port}`));
}

/** One side of a veth pair between a server namespace and a client namespace. */
export interface NetnsPair {
  server: string;
  client: string;
  serverAddress: string;
  clientAddress: string;
  serverInterface: string;
  clientInterface: string;
}

/**
 * Creates namespaces `<name>` and `<name>c` joined by a veth pair on 10.78.<subnet>.0/24, loopback up, and a default
 * route on each side: Linux sends a limited broadcast out of the default route's interface (GUIDE.md).
 */
export async function createNetnsPair(name: string, subnet: number): Promise<NetnsPair> {
  const pair: NetnsPair = {
    server: name,
    client: `${name}c`,
    serverAddress: `10.78.${subnet}.1`,
    clientAddress: `10.78.${subnet}.2`,
    serverInterface: `${name}-s`,
    clientInterface: `${name}-c`,
  };
  await removeNetnsPair(pair);
  for (const [ns, ifname, address] of [
    [pair.server, pair.serverInterface, pair.serverAddress],
    [pair.client, pair.clientInterface, pair.clientAddress],
  ] as const) {
    await runChecked(['ip', 'netns', 'add', ns]);
    if (ns === pair.server) await runChecked(['ip', 'link', 'add', pair.serverInterface, 'type', 'veth', 'peer', 'name', pair.clientInterface]);
    await runChecked(['ip', 'link', 'set', ifname, 'netns', ns]);
    await runChecked(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
    await runChecked(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await runChecked(['ip', '-n', ns, 'link', 'set', ifname, 'up']);
    await runChecked(['ip', '-n', ns, 'route', 'add', 'default', 'dev', ifname]);
  }
  return pair;
}

/** Deletes both namespaces of a pair (and with them the veth); quiet when they do not exist. */
export async function removeNetnsPair(pair: Pick<NetnsPair, 'server' | 'client'>): Promise<void> {
  await run(['ip', 'netns', 'del', pair.server]);
  await run(['ip', 'netns', 'del', pair.client]);
}

/** Peak resident set size (VmHWM) of a process in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(kib) * 1024;
}

/** Resets a process's VmHWM to its current RSS (proc(5), clear_refs value 5), so a later peak covers only what follows. */
export async function resetPeakRss(pid: number): Promise<void> {
  await run(['sh', '-c', `echo 5 > /proc/${pid}/clear_refs`]);
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The q-quantile (0–1) of a list, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Median of a figure over rounds with its spread (min and max), as the table prints it. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** Summarises the samples of one figure. */
export function figure(samples: readonly number[]): Figure {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples: [...samples] };
}

/**
 * Runs `measure` for every contender in every round, reversing the order each round (A B, B A, …) so that drift
 * on a shared machine hits both sides alike; returns the samples per contender.
 */
export async function alternate<T extends string, R = number>(rounds: number, contenders: readonly T[], measure: (contender: T, round: number) => Promise<R>): Promise<Map<T, R[]>> {
  const samples = new Map<T, R[]>(contenders.map((contender) => [contender, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) samples.get(contender)!.push(await measure(contender, round));
  }
  return samples;
}

/** The commands the benchmark needs, with the Debian package that provides each. */
export const REQUIRED_TOOLS = {
  ip: 'iproute2',
  nsenter: 'util-linux',
  ss: 'iproute2',
  dnsmasq: 'dnsmasq-base',
  'in.tftpd': 'tftpd-hpa',
  atftp: 'atftp',
  nginx: 'nginx-light',
  wrk: 'wrk',
  xorriso: 'xorriso',
  bsdtar: 'libarchive-tools',
} as const;

/** The Debian packages of the tools missing from PATH (empty when all are there). */
export async function missingPackages(): Promise<string[]> {
  const missing = new Set<string>();
  for (const [tool, pkg] of Object.entries(REQUIRED_TOOLS)) {
    const found = await run(['sh', '-c', `command -v ${tool}`]);
    if (found.code !== 0) missing.add(pkg);
  }
  return [...missing];
}
