import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, parseManifest } from './manifest.ts';

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
   * The binaries are bootstation's own build (manifest.json written by the build pipeline): their
   * embedded script sets user-class "bootstation", so ProxyDHCP may send other iPXE clients to them
   * without a loop. User-supplied or stock binaries never qualify.
   */
  ownBuild: boolean;
  /** From the manifest of our own build: what the log says about it. */
  build?: { version: string; keymap: string; builtAt: string };
}

/** Picks data/ipxe when it holds any first-stage binary, else Debian's stock binaries. */
export async function findIpxeBinaries(dataIpxeDir: string, stockDir: string = STOCK_IPXE_DIR): Promise<IpxeBinaries> {
  const own = await firstStageFilesIn(dataIpxeDir);
  if (own.size === 0) return { dir: stockDir, custom: false, files: await firstStageFilesIn(stockDir), ownBuild: false };
  const text = await readFile(join(dataIpxeDir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  const manifest = text === undefined ? undefined : parseManifest(text);
  if (!manifest) return { dir: dataIpxeDir, custom: true, files: own, ownBuild: false };
  return { dir: dataIpxeDir, custom: true, files: own, ownBuild: true, build: { version: manifest.version, keymap: manifest.keymap, builtAt: manifest.builtAt } };
}

async function firstStageFilesIn(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return new Map(FIRST_STAGE_FILES.filter((name) => entries.includes(name)).map((name) => [name, join(dir, name)]));
}
