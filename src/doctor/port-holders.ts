// Who holds a port: the socket tables of /proc/net and the socket links of every /proc/<pid>/fd.
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { PortHolder, WantedPort } from './checks.ts';
import { parseProcNetTable, socketInodeOf, type BoundSocket } from './proc-net.ts';

/** The holders of each wanted port, in the order asked. Processes of other users show without pid unless run as root. */
export async function findPortHolders(wanted: readonly WantedPort[], procRoot = '/proc'): Promise<PortHolder[][]> {
  const sockets: BoundSocket[] = [];
  for (const [file, protocol] of [['udp', 'udp'], ['udp6', 'udp'], ['tcp', 'tcp'], ['tcp6', 'tcp']] as const) {
    const text = await readFile(`${procRoot}/net/${file}`, 'utf8').catch(() => '');
    sockets.push(...parseProcNetTable(text, protocol));
  }
  const relevant = sockets.filter((socket) => wanted.some((port) => port.protocol === socket.protocol && port.port === socket.port));
  const owners = relevant.length === 0 ? new Map<number, { pid: number; command: string; bootstation: boolean }>() : await socketOwners(procRoot, new Set(relevant.map((socket) => socket.inode)));
  return wanted.map((port) =>
    relevant
      .filter((socket) => socket.protocol === port.protocol && socket.port === port.port)
      .map((socket): PortHolder => {
        const owner = owners.get(socket.inode);
        return { address: socket.address, pid: owner?.pid, command: owner?.command, bootstation: owner?.bootstation ?? false };
      }),
  );
}

async function socketOwners(procRoot: string, inodes: ReadonlySet<number>): Promise<Map<number, { pid: number; command: string; bootstation: boolean }>> {
  const owners = new Map<number, { pid: number; command: string; bootstation: boolean }>();
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    // Processes come and go, and other users' fds are unreadable without root: skip what cannot be read.
    const fds = await readdir(`${procRoot}/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const inode = socketInodeOf(await readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => ''));
      if (inode === undefined || !inodes.has(inode) || owners.has(inode)) continue;
      const command = (await readFile(`${procRoot}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      const commandLine = await readFile(`${procRoot}/${pid}/cmdline`, 'utf8').catch(() => '');
      owners.set(inode, { pid: Number(pid), command, bootstation: /bootstation/.test(commandLine) && /\bserve\b/.test(commandLine) });
    }
  }
  return owners;
}
