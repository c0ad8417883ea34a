import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import tarStream from 'tar-stream';

const run = promisify(execFile);

/** Whether a command exists on PATH (tests that need it are skipped with the reason otherwise). */
export async function hasCommand(command: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${command}`]).then(() => true, () => false);
}

/** Runs a command in a folder; rejects with its stderr. */
export async function runIn(cwd: string, command: string, args: readonly string[]): Promise<void> {
  await run(command, [...args], { cwd, maxBuffer: 16 * 1024 * 1024 });
}

/** Files of a test archive: path → content, or a symlink. */
export type ArchiveTree = Record<string, string | Buffer | { symlink: string }>;

/** Writes a tree into a folder, to be packed by the zip or tar commands. */
export async function writeArchiveTree(root: string, tree: ArchiveTree): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    const at = join(root, path);
    await mkdir(dirname(at), { recursive: true });
    if (typeof content === 'object' && 'symlink' in content) await symlink(content.symlink, at);
    else await writeFile(at, content);
  }
}

/** A tar built in-process, entry names exactly as given (also hostile ones the tar command refuses to write). */
export async function buildTar(entries: Array<{ name: string; content?: string | Buffer; symlink?: string; hardlink?: string }>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    if (entry.symlink !== undefined) pack.entry({ name: entry.name, type: 'symlink', linkname: entry.symlink });
    else if (entry.hardlink !== undefined) pack.entry({ name: entry.name, type: 'link', linkname: entry.hardlink });
    else pack.entry({ name: entry.name }, entry.content ?? '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * A zip with stored (uncompressed) entries, names exactly as given: the zip command normalises
 * hostile names away, and symlinks need their Unix mode in the external attributes.
 */
export function buildStoredZip(entries: Array<{ name: string; content: string; symlink?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.content, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode in the external attributes counts
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((entry.symlink ? 0o120777 : 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralSize = centrals.reduce((sum, b) => sum + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** One path of a snapshot: its kind, and its content or link target. */
export type SnapshotItem = { kind: 'file'; sha256: string; mtimeMs: number } | { kind: 'link'; target: string } | { kind: 'dir' } | { kind: 'other' };

/**
 * Every path under `root` (links not followed) with what it holds, leaving out paths `skip` accepts:
 * two snapshots around an ingest show whether anything outside the image folder was created, changed or deleted.
 */
export async function snapshotTree(root: string, skip: (relative: string) => boolean = () => false): Promise<Map<string, SnapshotItem>> {
  const items = new Map<string, SnapshotItem>();
  const walk = async (relative: string): Promise<void> => {
    for (const name of await readdir(join(root, relative))) {
      const path = relative === '' ? name : `${relative}/${name}`;
      if (skip(path)) continue;
      const stats = await lstat(join(root, path));
      if (stats.isSymbolicLink()) items.set(path, { kind: 'link', target: await readlink(join(root, path)) });
      else if (stats.isDirectory()) {
        items.set(path, { kind: 'dir' });
        await walk(path);
      } else if (stats.isFile()) items.set(path, { kind: 'file', sha256: createHash('sha256').update(await readFile(join(root, path))).digest('hex'), mtimeMs: stats.mtimeMs });
      else items.set(path, { kind: 'other' });
    }
  };
  await walk('');
  return items;
}
