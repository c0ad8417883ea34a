// Builds the lab's test initrd of an architecture: busybox, the NIC modules and the /init that reports on the serial console.
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { LAB_ARCHITECTURES, type LabArch } from './architectures.ts';
import { aptVersion, cachedPackage, DEFAULT_LAB_CACHE } from './debian-package.ts';
import { MODULE_LIST_PATH, renderInitScript, renderUdhcpcScript, UDHCPC_SCRIPT_PATH } from './initrd-files.ts';
import type { TestKernel } from './test-kernel.ts';

/** The host's busybox-static; a static binary runs in an initrd without any libraries. */
export const STATIC_BUSYBOX = '/bin/busybox';

/**
 * A static busybox that runs under the test kernel of arch: the host's for amd64, else Debian's busybox-static
 * of that architecture, downloaded once into the lab's cache.
 */
export async function ensureStaticBusybox(arch: LabArch, note: (line: string) => void = () => {}, cacheDir: string = DEFAULT_LAB_CACHE): Promise<string> {
  const pkg = LAB_ARCHITECTURES[arch].busyboxPackage;
  if (!pkg) return STATIC_BUSYBOX;
  const version = await aptVersion(pkg);
  const { dir } = await cachedPackage(
    cacheDir,
    pkg,
    version,
    () => true,
    async (root, staged) => {
      await copyFile(join(root, 'bin/busybox'), join(staged, 'busybox'));
      return { package: pkg, version };
    },
    note,
  );
  return join(dir, 'busybox');
}

/** Builds the lab's test initrd (newc cpio, as the kernel unpacks it) for the kernel's architecture at outFile. */
export async function buildTestInitrd(kernel: TestKernel, outFile: string, busybox?: string): Promise<void> {
  busybox ??= await ensureStaticBusybox(kernel.arch);
  const root = await mkdtemp(`${outFile}.root-`);
  try {
    for (const dir of ['bin', 'lab', 'lib/modules']) await mkdir(join(root, dir), { recursive: true });
    await copyFile(busybox, join(root, 'bin/busybox'));
    await chmod(join(root, 'bin/busybox'), 0o755);
    await writeFile(join(root, 'init'), renderInitScript(), { mode: 0o755 });
    await writeFile(join(root, UDHCPC_SCRIPT_PATH), renderUdhcpcScript(), { mode: 0o755 });
    for (const module of kernel.modules) await copyFile(module, join(root, 'lib/modules', basename(module)));
    await writeFile(join(root, MODULE_LIST_PATH), kernel.modules.map((module) => `/lib/modules/${basename(module)}\n`).join(''));
    await cpioNewc(root, outFile);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function cpioNewc(root: string, outFile: string): Promise<void> {
  const entries = (await readdir(root, { recursive: true })).map((path) => relative(root, join(root, path))).sort();
  const out = await open(outFile, 'w');
  try {
    // -R 0:0: the files belong to root inside the guest whoever builds the image.
    const child = spawn('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: root, stdio: ['pipe', out.fd, 'pipe'] });
    let stderr = '';
    if (!child.stdin || !child.stderr) throw new Error('cpio started without pipes');
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(`${entries.join('\n')}\n`);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`cpio failed building ${outFile}: ${stderr.trim() || `exit ${code}`}`);
  } finally {
    await out.close();
  }
}
