// Builds and removes the lab's namespaces, bridge, veths and taps.
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './processes.ts';
import { labNetworkCommands, type LabTopology } from './topology.ts';

/** Builds the lab network, after removing whatever an earlier run of the same prefix left behind. */
export async function setupLabNetwork(lab: LabTopology): Promise<void> {
  await teardownLabNetwork(lab);
  try {
    for (const command of labNetworkCommands(lab)) await runCommand(command);
  } catch (error) {
    await teardownLabNetwork(lab);
    throw error;
  }
}

/**
 * Ends every process still running in the lab's namespaces (ours from this run, or from a run that
 * crashed) and deletes the namespaces, which removes their veths, taps and bridge. Idempotent.
 */
export async function teardownLabNetwork(lab: LabTopology): Promise<void> {
  const existing = new Set((await runCommand(['ip', 'netns', 'list'])).split('\n').map((line) => line.split(' ')[0]));
  for (const ns of Object.values(lab.namespaces)) {
    if (!existing.has(ns)) continue;
    await endProcessesIn(ns);
    await runCommand(['ip', 'netns', 'delete', ns]).catch(() => undefined);
  }
}

async function endProcessesIn(ns: string): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (let wait = 0; wait < 30; wait++) {
      const pids = await namespacePids(ns);
      if (pids.length === 0) return;
      if (wait === 0) for (const pid of pids) signalPid(pid, signal);
      await sleep(100);
    }
  }
}

async function namespacePids(ns: string): Promise<number[]> {
  const text = await runCommand(['ip', 'netns', 'pids', ns]).catch(() => '');
  return text.split('\n').filter((line) => /^\d+$/.test(line.trim())).map(Number);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone between listing and signalling.
  }
}
