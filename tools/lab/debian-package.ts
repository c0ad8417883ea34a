// Fetches Debian packages of any architecture into the lab's cache with `apt-get download` and `dpkg -x`; nothing is installed.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './processes.ts';

/** Where the lab keeps downloaded packages, outside any checkout, one folder per package version. */
export const DEFAULT_LAB_CACHE = '/var/cache/bootstation-lab';

/** The package named by the first "Depends:" line of `apt-cache depends`. */
export function parseAptDepends(text: string): string | undefined {
  return /^\s*Depends:\s*(\S+)/m.exec(text)?.[1];
}

/** The "Version:" field of `apt-cache show`. */
export function parseAptVersion(text: string): string | undefined {
  return /^Version:\s*(\S+)/m.exec(text)?.[1];
}

/** The package a meta package (e.g. linux-image-arm64:arm64) depends on, with its architecture suffix. */
export async function aptDependency(metaPackage: string): Promise<string> {
  const pkg = parseAptDepends(await runCommand(['apt-cache', 'depends', '--important', metaPackage]));
  if (!pkg) throw new Error(`apt-cache knows no ${metaPackage}; run \`apt-get update\` (and \`dpkg --add-architecture\` for a foreign one) so the lab can download it`);
  return pkg;
}

/** The candidate version of a package (name[:arch]). */
export async function aptVersion(pkg: string): Promise<string> {
  const version = parseAptVersion(await runCommand(['apt-cache', 'show', '--no-all-versions', pkg]));
  if (!version) throw new Error(`apt-cache shows no version of ${pkg}; run \`apt-get update\` (and \`dpkg --add-architecture\` for a foreign one)`);
  return version;
}

/** The cache folder name of a package version: name_version_arch (":" is left out of paths). */
export function cacheFolderName(pkg: string, version: string): string {
  const [name, arch] = pkg.split(':');
  return [name, version, ...(arch ? [arch] : [])].join('_');
}

/**
 * The cache folder of pkg=version: when its manifest.json is there and `fresh` accepts it, as it is;
 * otherwise the package is downloaded and unpacked, `stage(root, staged)` copies what the lab keeps from the
 * unpacked tree into `staged` and returns the manifest, and `staged` becomes the folder in one rename.
 */
export async function cachedPackage<M>(
  cacheDir: string,
  pkg: string,
  version: string,
  fresh: (manifest: M) => boolean,
  stage: (root: string, staged: string) => Promise<M>,
  note: (line: string) => void = () => {},
): Promise<{ dir: string; manifest: M }> {
  const dir = join(cacheDir, cacheFolderName(pkg, version));
  const cached = await readManifest<M>(dir);
  if (cached && fresh(cached)) return { dir, manifest: cached };
  // Made by an older lab for other contents: make it again.
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
    const staged = join(work, 'staged');
    await mkdir(staged, { recursive: true });
    const manifest = await stage(root, staged);
    await writeFile(join(staged, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await rename(staged, dir);
    } catch (error) {
      // Another lab (a parallel test file) finished the same download first: use its copy.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    return { dir, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function readManifest<M>(dir: string): Promise<M | undefined> {
  const text = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as M);
}
