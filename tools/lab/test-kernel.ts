// Fetches and caches the Debian kernel the lab boots on each architecture, with its NIC modules.
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LAB_ARCHITECTURES, type LabArch } from './architectures.ts';
import { aptDependency, aptVersion, cachedPackage, DEFAULT_LAB_CACHE } from './debian-package.ts';
import { moduleLoadOrder, parseModulesDep } from './kernel-modules.ts';
import { runCommand } from './processes.ts';

/** A kernel from Debian's linux-image package, with the NIC modules the test initrd loads. */
export interface TestKernel {
  arch: LabArch;
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

/**
 * The test kernel of an architecture, from the cache when this version is there, else downloaded with
 * `apt-get download` and unpacked with `dpkg -x` (nothing is installed). Only vmlinuz and the NIC modules are kept.
 */
export async function ensureTestKernel(arch: LabArch = 'amd64', note: (line: string) => void = () => {}, cacheDir: string = DEFAULT_LAB_CACHE): Promise<TestKernel> {
  const { kernelMetaPackage, nicModules } = LAB_ARCHITECTURES[arch];
  const pkg = await aptDependency(kernelMetaPackage);
  const version = await aptVersion(pkg);
  const { dir, manifest } = await cachedPackage<Manifest>(
    cacheDir,
    pkg,
    version,
    (cached) => cached.roots.join() === nicModules.join(),
    async (root, staged) => {
      const release = (await readdir(join(root, 'lib/modules')))[0];
      const vmlinuz = (await readdir(join(root, 'boot'))).find((name) => name.startsWith('vmlinuz-'));
      if (!release || !vmlinuz) throw new Error(`${pkg} ${version} holds no vmlinuz or /lib/modules`);
      // The package carries no modules.dep (its postinst runs depmod); busybox's depmod writes one.
      await runCommand(['busybox', 'depmod', '-b', root, release]);
      const modulesDir = join(root, 'lib/modules', release);
      const order = moduleLoadOrder(parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8')), nicModules);
      await mkdir(join(staged, 'modules'));
      await copyFile(join(root, 'boot', vmlinuz), join(staged, 'vmlinuz'));
      for (const path of order) await copyFile(join(modulesDir, path), join(staged, 'modules', basename(path)));
      return { package: pkg, version, roots: [...nicModules], modules: order.map((path) => basename(path)) };
    },
    note,
  );
  return { arch, package: manifest.package, version: manifest.version, vmlinuz: join(dir, 'vmlinuz'), modules: manifest.modules.map((name) => join(dir, 'modules', name)) };
}
