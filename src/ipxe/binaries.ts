import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** First-stage iPXE binaries bootstation hands to firmware, by the names clients ask for. */
export const FIRST_STAGE_FILES = ['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi', 'snp-arm64.efi'] as const;

/** Where Debian's `ipxe` package puts its stock binaries (undionly.kpxe, ipxe.efi). */
export const STOCK_IPXE_DIR = '/usr/lib/ipxe';

/** The folder iPXE binaries are served from, and what is in it. */
export interface IpxeBinaries {
  dir: string;
  /** false: the stock fallback, without the user's keymap and our embedded script. */
  custom: boolean;
  /** First-stage file name → absolute path, for the files present. */
  files: ReadonlyMap<string, string>;
  /**
   * The binaries are bootstation's own build (build.json written by the build pipeline): their
   * embedded script sets user-class "bootstation", so ProxyDHCP may send other iPXE clients to them
   * without a loop. User-supplied or stock binaries never qualify.
   */
  ownBuild: boolean;
}

/** The manifest the iPXE build pipeline writes next to the binaries it built. */
export const BUILD_MANIFEST = 'build.json';

/** Picks data/ipxe when it holds any first-stage binary, else Debian's stock binaries. */
export async function findIpxeBinaries(dataIpxeDir: string, stockDir: string = STOCK_IPXE_DIR): Promise<IpxeBinaries> {
  const own = await firstStageFilesIn(dataIpxeDir);
  if (own.size > 0) return { dir: dataIpxeDir, custom: true, files: own, ownBuild: await isOwnBuild(dataIpxeDir) };
  return { dir: stockDir, custom: false, files: await firstStageFilesIn(stockDir), ownBuild: false };
}

async function isOwnBuild(dir: string): Promise<boolean> {
  const text = await readFile(join(dir, BUILD_MANIFEST), 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  try {
    return (JSON.parse(text) as { builder?: unknown }).builder === 'bootstation';
  } catch {
    return false;
  }
}

async function firstStageFilesIn(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return new Map(FIRST_STAGE_FILES.filter((name) => entries.includes(name)).map((name) => [name, join(dir, name)]));
}
