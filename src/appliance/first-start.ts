// The container's first start: writes the starter images.yaml and seeds data/ipxe with the image's iPXE binaries.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { copyFileAtomically, writeFileAtomically } from '../files/atomic-write.ts';
import { dataLayout } from '../files/data-dir.ts';
import { FIRST_STAGE_FILES } from '../boot/platform.ts';
import { SEEDED_MARKER, STOCK_MARKER } from '../ipxe/binaries.ts';
import { installOutputs } from '../ipxe/build.ts';
import { STAGE_KEYMAP_FILE, STAGE_RECORD } from '../ipxe/docker-context.ts';
import { parseKeymap } from '../ipxe/keymap.ts';
import { createIpxeBuildManifest, IPXE_BUILD_MANIFEST_FILE, parseBuildRecord, renderIpxeBuildManifest } from '../ipxe/manifest.ts';
import { renderStarterConfig } from './starter-config.ts';

/** What first start did, for the log. */
export interface FirstStartReport {
  /** The starter images.yaml was written (none existed). */
  wroteStarterConfig: boolean;
  /** What happened to data/ipxe. */
  ipxe: 'seeded' | 'refreshed' | 'up-to-date' | 'kept-user-build' | 'no-image-binaries';
}

/**
 * Prepares a container's volumes before `serve`: writes a commented starter images.yaml when there is
 * none, and copies the iPXE binaries built into the image into data/ipxe unless the user put their own
 * there (a folder with first-stage binaries and no SEEDED_MARKER is left alone).
 */
export async function prepareFirstStart(options: { configPath: string; dataDir: string; imageIpxeDir: string }): Promise<FirstStartReport> {
  const wroteStarterConfig = await writeStarterConfig(options.configPath).catch(explainDenied(dirname(options.configPath)));
  const ipxe = await seedIpxe(options.imageIpxeDir, dataLayout(options.dataDir).ipxe).catch(explainDenied(options.dataDir));
  return { wroteStarterConfig, ipxe };
}

/** A volume the container cannot write; the message names the folder, the user and the fix. */
export class FirstStartError extends Error {
  readonly code = 'BOOTSTATION_FIRST_START';
}

// Bind mounts that Docker created are owned by root, and the image runs as an unprivileged user.
function explainDenied(folder: string): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    if (error.code !== 'EACCES' && error.code !== 'EPERM' && error.code !== 'EROFS') throw error;
    const user = `${process.getuid?.() ?? '?'}:${process.getgid?.() ?? '?'}`;
    throw new FirstStartError(`${folder} is not writable for the container's user ${user} (${error.code}); on the host, give the mounted folder to that user (chown -R ${user} <folder>) and start again`, { cause: error });
  };
}

// "wx" creates the file only if it does not exist, so a config the user wrote meanwhile is never replaced.
async function writeStarterConfig(configPath: string): Promise<boolean> {
  await mkdir(dirname(configPath), { recursive: true });
  const file = await open(configPath, 'wx').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return undefined;
    throw error;
  });
  if (!file) return false;
  try {
    await file.writeFile(renderStarterConfig());
  } finally {
    await file.close();
  }
  return true;
}

async function seedIpxe(from: string, to: string): Promise<FirstStartReport['ipxe']> {
  const offered = await listFiles(from);
  const binaries = FIRST_STAGE_FILES.filter((name) => offered.includes(name));
  if (binaries.length === 0) return 'no-image-binaries';
  const present = await listFiles(to);
  const marker = await readFile(join(to, SEEDED_MARKER), 'utf8').catch(() => undefined);
  if (marker === undefined && present.some(isIpxeOutput)) return 'kept-user-build';
  const fingerprint = await fingerprintOf(from, offered);
  if (marker === fingerprint) return 'up-to-date';

  await mkdir(to, { recursive: true });
  // The marker goes first: a start interrupted half-way is completed by the next one, never mistaken
  // for the user's own build.
  await writeFile(join(to, SEEDED_MARKER), '');
  // The folder holds only what an earlier image put there: its binaries and manifest go.
  for (const name of present.filter(isIpxeOutput)) await rm(join(to, name), { force: true });
  const recordText = offered.includes(STAGE_RECORD) ? await readFile(join(from, STAGE_RECORD), 'utf8') : undefined;
  if (recordText === undefined) {
    // Debian's stock binaries (IPXE_SOURCE=stock): copied as they are, without a manifest, so they are never
    // taken for bootstation's own build; the marker has serve, doctor and the dashboard say what they lack.
    for (const name of offered.filter(isBinary)) await copyFileAtomically(join(from, name), join(to, name));
    await writeFile(join(to, STOCK_MARKER), "Debian's stock iPXE binaries, copied from an image built with IPXE_SOURCE=stock.\n");
  } else {
    // bootstation's own build: the same install and manifest as `bootstation ipxe build`, so ProxyDHCP
    // knows its embedded script (user class "bootstation").
    const record = await installOutputs(from, parseBuildRecord(recordText), to);
    const keymap = parseKeymap((await readFile(join(from, STAGE_KEYMAP_FILE), 'utf8')).trim());
    // The project Dockerfile compiles the committed ipxe-src/embed.ipxe, which is rendered for port 80.
    const manifest = createIpxeBuildManifest({ record, keymap, httpPort: 80, builtAt: new Date() });
    await writeFileAtomically(join(to, IPXE_BUILD_MANIFEST_FILE), renderIpxeBuildManifest(manifest));
  }
  await writeFile(join(to, SEEDED_MARKER), fingerprint);
  return marker === undefined ? 'seeded' : 'refreshed';
}

function isBinary(name: string): boolean {
  return name.endsWith('.kpxe') || name.endsWith('.efi');
}

function isIpxeOutput(name: string): boolean {
  return isBinary(name) || name === IPXE_BUILD_MANIFEST_FILE || name === STOCK_MARKER;
}

async function listFiles(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function fingerprintOf(dir: string, names: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const name of [...names].sort()) hash.update(`${name}\0`).update(await readFile(join(dir, name))).update('\0');
  return `${hash.digest('hex')}\n`;
}

