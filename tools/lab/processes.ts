// Runs the lab's commands and long-running processes, logged to files and stopped by pid.
import { execFile, spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';

/** A command of the lab that failed; the message names the command and carries its stderr. */
export class LabCommandError extends Error {
  readonly code = 'BOOTSTATION_LAB_COMMAND';
}

/** Runs a command to completion and resolves to its stdout; rejects with LabCommandError. */
export function runCommand(argv: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const [command, ...args] = argv;
  if (!command) throw new LabCommandError('empty command');
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new LabCommandError(`\`${argv.join(' ')}\` failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** A long-running process of the lab whose output goes to a log file. */
export interface LabProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  exited: Promise<number | string>;
  /** Whether the process has ended. */
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a process with stdout and stderr appended to logFile. */
export async function startProcess(name: string, argv: readonly string[], logFile: string): Promise<LabProcess> {
  const [command, ...args] = argv;
  if (!command) throw new LabCommandError(`empty command for ${name}`);
  const log = await open(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  let ended = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => {
      ended = true;
      resolve(`spawn error: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      ended = true;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  if (child.pid === undefined) {
    throw new LabCommandError(`could not start ${name} (\`${argv.join(' ')}\`): ${String(await exited)}`);
  }
  return {
    name,
    pid: child.pid,
    logFile,
    exited,
    hasExited: () => ended,
    async stop(graceMs = 3000) {
      if (ended) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last lines of a log file, or a note that it is missing. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return `(no ${path})`;
  return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
}
