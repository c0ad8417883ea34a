import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IPXE_BUILD_MANIFEST_FILE, parseIpxeBuildManifest } from './manifest.ts';

/** First-stage iPXE binaries bootstation hands to firmware, by the names clients ask for. */
export const FIRST_STAGE_FILES = ['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi', 'snp-arm64.efi'] as const;

/** Where Debian's `ipxe` package puts its stock binaries (undionly.kpxe, ipxe.efi). */
export const STOCK_IPXE_DIR = '/usr/lib/ipxe';

/**
 * Left in data/ipxe by a container's first start next to Debian's stock binaries (an image built with
 * IPXE_SOURCE=stock), so they are known as stock although they sit where a user's own would.
 */
export const STOCK_MARKER = '.debian-stock';

/** What Debian's stock iPXE (1.0.0+git-20190125) lacks against bootstation's build: said by serve, doctor and the dashboard. */
export const STOCK_IPXE_LACKS = [
  'your keyboard layout (US keys only)',
  "bootstation's embedded script (machines reach boot.ipxe only through the ProxyDHCP's chain)",
  'ipxe32.efi (32-bit UEFI)',
  'the arm64 binary (snp-arm64.efi)',
] as const;

/** STOCK_IPXE_LACKS as one phrase, for log lines and the doctor. */
export const STOCK_IPXE_LACKS_TEXT = `${STOCK_IPXE_LACKS.slice(0, -1).join(', ')} and ${STOCK_IPXE_LACKS.at(-1)}`;

/** How to replace the stock binaries with bootstation's own build. */
export const STOCK_IPXE_FIX = 'build your own with `bootstation ipxe build`, or build the Docker image the default way (without IPXE_SOURCE=stock)';

/** The folder iPXE binaries are served from, and what is in it. */
export interface IpxeBinaries {
  dir: string;
  /**
   * false: Debian's stock iPXE, which lacks STOCK_IPXE_LACKS: the fallback from /usr/lib/ipxe, or copied into
   * data/ipxe by an image built with IPXE_SOURCE=stock (STOCK_MARKER).
   */
  custom: boolean;
  /** First-stage file name → absolute path, for the files present. */
  files: ReadonlyMap<string, string>;
  /**
   * The binaries are bootstation's own build (manifest.json written by the build pipeline): their
   * embedded script sets user-class "bootstation", so ProxyDHCP may send other iPXE clients to them
   * without a loop. User-supplied or stock binaries never qualify.
   */
  ownBuild: boolean;
  /** From the manifest of our own build: what the log says about it. */
  build?: { version: string; keymap: string; builtAt: string };
}

/** Picks data/ipxe when it holds any first-stage binary, else Debian's stock binaries; says whose binaries they are. */
export async function findIpxeBinaries(dataIpxeDir: string, stockDir: string = STOCK_IPXE_DIR): Promise<IpxeBinaries> {
  const own = await firstStageFilesIn(dataIpxeDir);
  if (own.size === 0) return { dir: stockDir, custom: false, files: await firstStageFilesIn(stockDir), ownBuild: false };
  if (await exists(join(dataIpxeDir, STOCK_MARKER))) return { dir: dataIpxeDir, custom: false, files: own, ownBuild: false };
  const text = await readFile(join(dataIpxeDir, IPXE_BUILD_MANIFEST_FILE), 'utf8').catch(() => undefined);
  const manifest = text === undefined ? undefined : parseIpxeBuildManifest(text);
  if (!manifest) return { dir: dataIpxeDir, custom: true, files: own, ownBuild: false };
  return { dir: dataIpxeDir, custom: true, files: own, ownBuild: true, build: { version: manifest.version, keymap: manifest.keymap, builtAt: manifest.builtAt } };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function firstStageFilesIn(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return new Map(FIRST_STAGE_FILES.filter((name) => entries.includes(name)).map((name) => [name, join(dir, name)]));
}
