// Fetches and caches the Debian kernel the lab boots, with its NIC modules.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { moduleLoadOrder, parseModulesDep } from './kernel-modules.ts';
import { runCommand } from './processes.ts';

/** Where the lab keeps downloaded kernels, outside any checkout, one folder per package version. */
export const DEFAULT_KERNEL_CACHE = '/var/cache/bootstation-lab';

/** Debian's meta package that depends on the current kernel image package. */
export const KERNEL_META_PACKAGE = 'linux-image-amd64';

/** NIC drivers of the lab's VMs (e1000 on BIOS, virtio-net on UEFI), which Debian builds as modules. */
export const LAB_NIC_MODULES = ['e1000', 'virtio_pci', 'virtio_net'] as const;

/** A kernel from Debian's linux-image package, with the NIC modules the test initrd loads. */
export interface TestKernel {
  package: string;
  version: string;
  vmlinuz: string;
  /** Absolute paths of the .ko files, dependencies first. */
  modules: string[];
}

interface Manifest {
  package: string;
  version: string;
  roots: string[];
  modules: string[];
}

/** The package named by the first "Depends:" line of `apt-cache depends`. */
export function parseAptDepends(text: string): string | undefined {
  return /^\s*Depends:\s*(\S+)/m.exec(text)?.[1];
}

/** The "Version:" field of `apt-cache show`. */
export function parseAptVersion(text: string): string | undefined {
  return /^Version:\s*(\S+)/m.exec(text)?.[1];
}

/**
 * The test kernel, from the cache when this version is there, else downloaded with `apt-get download`
 * and unpacked with `dpkg -x` (nothing is installed). Only vmlinuz and the NIC modules are kept.
 */
export async function ensureTestKernel(cacheDir: string = DEFAULT_KERNEL_CACHE, note: (line: string) => void = () => {}): Promise<TestKernel> {
  const pkg = parseAptDepends(await runCommand(['apt-cache', 'depends', '--important', KERNEL_META_PACKAGE]));
  if (!pkg) throw new Error(`apt-cache knows no ${KERNEL_META_PACKAGE}; run \`apt-get update\` so the lab can download a kernel`);
  const version = parseAptVersion(await runCommand(['apt-cache', 'show', '--no-all-versions', pkg]));
  if (!version) throw new Error(`apt-cache shows no version of ${pkg}; run \`apt-get update\``);
  const dir = join(cacheDir, `${pkg}_${version}`);
  const cached = await readManifest(dir);
  if (cached && cached.roots.join() === LAB_NIC_MODULES.join()) return kernelIn(dir, cached);
  // Built for another module list (an older lab): build it again.
  await rm(dir, { recursive: true, force: true });

  note(`downloading ${pkg} ${version} into ${cacheDir}`);
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, '.download-'));
  try {
    await runCommand(['apt-get', 'download', `${pkg}=${version}`], { cwd: work, timeoutMs: 600_000 });
    const deb = (await readdir(work)).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${work}`);
    const root = join(work, 'root');
    await runCommand(['dpkg', '-x', join(work, deb), root]);
    const release = (await readdir(join(root, 'lib/modules')))[0];
    const vmlinuz = (await readdir(join(root, 'boot'))).find((name) => name.startsWith('vmlinuz-'));
    if (!release || !vmlinuz) throw new Error(`${deb} holds no vmlinuz or /lib/modules`);
    // The package carries no modules.dep (its postinst runs depmod); busybox's depmod writes one.
    await runCommand(['busybox', 'depmod', '-b', root, release]);
    const modulesDir = join(root, 'lib/modules', release);
    const order = moduleLoadOrder(parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8')), LAB_NIC_MODULES);
    const staged = join(work, 'kernel');
    await mkdir(join(staged, 'modules'), { recursive: true });
    await copyFile(join(root, 'boot', vmlinuz), join(staged, 'vmlinuz'));
    for (const path of order) await copyFile(join(modulesDir, path), join(staged, 'modules', basename(path)));
    const manifest: Manifest = { package: pkg, version, roots: [...LAB_NIC_MODULES], modules: order.map((path) => basename(path)) };
    await writeFile(join(staged, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await rename(staged, dir);
    } catch (error) {
      // Another lab (a parallel test file) finished the same download first: use its copy.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    return kernelIn(dir, manifest);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Manifest);
}

function kernelIn(dir: string, manifest: Manifest): TestKernel {
  return {
    package: manifest.package,
    version: manifest.version,
    vmlinuz: join(dir, 'vmlinuz'),
    modules: manifest.modules.map((name) => join(dir, 'modules', name)),
  };
}
