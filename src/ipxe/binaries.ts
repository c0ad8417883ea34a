// Finds the iPXE binaries to serve in data/ipxe, else Debian's stock ones, and says what stock binaries lack.
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIRST_STAGE_FILES, PLATFORMS } from '../boot/platform.ts';
import { IPXE_BUILD_MANIFEST_FILE, parseIpxeBuildManifest } from './manifest.ts';

/** Where Debian's `ipxe` package puts its stock binaries (undionly.kpxe, ipxe.efi). */
export const STOCK_IPXE_DIR = '/usr/lib/ipxe';

/**
 * Left in data/ipxe by a container's first start next to Debian's stock binaries (an image built with
 * IPXE_SOURCE=stock), so they are known as stock although they sit where a user's own would. A build
 * (`bootstation ipxe build`) removes it together with the stock binaries it did not replace.
 */
export const STOCK_MARKER = '.debian-stock';

/**
 * Marks a data/ipxe that a container's first start filled from the image, holding the SHA-256 list of what was
 * copied: such a folder is refreshed when a newer image brings other binaries; a folder without it is the user's
 * own. A build (`bootstation ipxe build`) removes it, so the next image never replaces the user's build.
 */
export const SEEDED_MARKER = '.from-image';

/** What Debian's stock iPXE (1.0.0+git-20190125) lacks against bootstation's build: said by serve, doctor and the dashboard. */
export const STOCK_IPXE_LACKS: readonly string[] = [
  'your keyboard layout (US keys only)',
  "bootstation's embedded script (machines reach boot.ipxe only through the ProxyDHCP's chain)",
  ...PLATFORMS.filter((platform) => !platform.inDebianIpxe).map((platform) => `${platform.firstStage} (${platform.displayName})`),
];

/** STOCK_IPXE_LACKS as one phrase, for log lines and the doctor. */
export const STOCK_IPXE_LACKS_TEXT = `${STOCK_IPXE_LACKS.slice(0, -1).join(', ')} and ${STOCK_IPXE_LACKS.at(-1)}`;

/** How to replace the stock binaries with bootstation's own build. */
export const STOCK_IPXE_FIX = 'build your own with `bootstation ipxe build`, or build the Docker image the default way (without IPXE_SOURCE=stock)';

/** Whose iPXE binaries are served: what serve, doctor and the dashboard say about them, and whether ProxyDHCP may chain other iPXE clients to them. */
export type IpxeBinariesSource =
  /**
   * bootstation's own build (manifest.json written by the build pipeline): its embedded script sets user-class
   * "bootstation", so ProxyDHCP may send other iPXE clients to it without a loop.
   */
  | { kind: 'own-build'; build: { version: string; keymap: string; builtAt: string } }
  /** A user's binaries in data/ipxe without a manifest of a bootstation build. */
  | { kind: 'custom' }
  /**
   * Debian's stock iPXE, which lacks STOCK_IPXE_LACKS: the fallback from /usr/lib/ipxe, or copied into data/ipxe
   * by an image built with IPXE_SOURCE=stock (STOCK_MARKER).
   */
  | { kind: 'stock' };

/** The folder iPXE binaries are served from, what is in it, and whose binaries they are. */
export type IpxeBinaries = IpxeBinariesSource & {
  dir: string;
  /** First-stage file name → absolute path, for the files present. */
  files: ReadonlyMap<string, string>;
};

/** Picks data/ipxe when it holds any first-stage binary, else Debian's stock binaries; says whose binaries they are. */
export async function findIpxeBinaries(dataIpxeDir: string, stockDir: string = STOCK_IPXE_DIR): Promise<IpxeBinaries> {
  const own = await firstStageFilesIn(dataIpxeDir);
  if (own.size === 0) return { kind: 'stock', dir: stockDir, files: await firstStageFilesIn(stockDir) };
  if (await exists(join(dataIpxeDir, STOCK_MARKER))) return { kind: 'stock', dir: dataIpxeDir, files: own };
  const text = await readFile(join(dataIpxeDir, IPXE_BUILD_MANIFEST_FILE), 'utf8').catch(() => undefined);
  const manifest = text === undefined ? undefined : parseIpxeBuildManifest(text);
  if (!manifest) return { kind: 'custom', dir: dataIpxeDir, files: own };
  return { kind: 'own-build', dir: dataIpxeDir, files: own, build: { version: manifest.version, keymap: manifest.keymap, builtAt: manifest.builtAt } };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function firstStageFilesIn(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return new Map(FIRST_STAGE_FILES.filter((name) => entries.includes(name)).map((name) => [name, join(dir, name)]));
}
