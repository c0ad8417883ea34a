// Runs scripts/build-ipxe.sh on this host and writes data/ipxe/manifest.json for what it built.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLATFORMS } from '../boot/platform.ts';
import { copyFileAtomically, writeFileAtomically } from '../files/atomic-write.ts';
import { findIpxeBinaries, SEEDED_MARKER, STOCK_MARKER } from './binaries.ts';
import { renderEmbedScript } from './embed-script.ts';
import type { IpxeKeymap } from './keymap.ts';
import { createIpxeBuildManifest, IPXE_BUILD_MANIFEST_FILE, parseBuildRecord, parseIpxeBuildManifest, renderIpxeBuildManifest, reuseRecord, staleOutputs, type BuildRecord, type IpxeBuildManifest } from './manifest.ts';
import { missingFirstStages, type MissingFirstStage } from './missing-first-stages.ts';
import { renderOverlay } from './overlay.ts';
import { buildScriptTargetArgs, type IpxeTargetName } from './targets.ts';

/** scripts/build-ipxe.sh, next to src/ in the checkout. */
export const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-ipxe.sh', import.meta.url));

/** The iPXE source to build from: a folder holding src/, or a release tarball. */
export interface IpxeSource {
  path: string;
  kind: 'dir' | 'tarball';
}

/** What one build makes and where it puts it. */
export interface IpxeBuildSettings {
  keymap: IpxeKeymap;
  targets: readonly IpxeTargetName[];
  /** Baked into the embedded script: the port /boot.ipxe is served on. */
  httpPort: number;
  source: IpxeSource;
  /** The pin a tarball source must match (ipxe-src/pin.json unless --pin names another); scripts/build-ipxe.sh checks it. */
  pinFile: string;
  /** data/ipxe: binaries and manifest.json go here. */
  ipxeDir: string;
  log: (line: string) => void;
  now?: () => Date;
}

/** What a finished build left in data/ipxe. */
export interface IpxeBuildResult {
  manifest: IpxeBuildManifest;
  built: string[];
  reused: string[];
  /** Binaries of an earlier build with another keymap, port or source, removed so they are not served. */
  removed: string[];
  /**
   * Set when data/ipxe held Debian's stock binaries (STOCK_MARKER): those this build did not replace, removed
   * together with the marker (empty when it replaced them all).
   */
  stockRemoved?: string[];
  /** Required platforms (BIOS, x64 UEFI) whose first stage data/ipxe lacks after the build, each with the command that adds it. */
  requiredMissing: MissingFirstStage[];
}

/** A build that did not finish; the message says which step failed and what to do. */
export class IpxeBuildError extends Error {
  readonly code = 'BOOTSTATION_IPXE_BUILD';
}

/** Tells a source folder from a tarball, or throws naming the path when it is neither. */
export async function resolveSource(path: string): Promise<IpxeSource> {
  const found = await stat(path).catch(() => undefined);
  if (!found) throw new IpxeBuildError(`--source ${path} does not exist; give an iPXE source folder (the one holding src/) or a release tarball`);
  return { path, kind: found.isDirectory() ? 'dir' : 'tarball' };
}

/** Reads data/ipxe/manifest.json when bootstation wrote it. */
export async function readManifest(ipxeDir: string): Promise<IpxeBuildManifest | undefined> {
  const text = await readFile(join(ipxeDir, IPXE_BUILD_MANIFEST_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseIpxeBuildManifest(text);
}

/** Builds on this host with scripts/build-ipxe.sh (gcc, make, perl, liblzma-dev), reusing unchanged targets. */
export async function buildLocally(settings: IpxeBuildSettings): Promise<IpxeBuildResult> {
  const work = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-'));
  try {
    for (const [path, content] of Object.entries(renderOverlay())) {
      await mkdir(dirname(join(work, 'overlay', path)), { recursive: true });
      await writeFile(join(work, 'overlay', path), content);
    }
    await writeFile(join(work, 'embed.ipxe'), renderEmbedScript(settings.httpPort, settings.keymap));
    await mkdir(settings.ipxeDir, { recursive: true });
    const previous = await readManifest(settings.ipxeDir);
    const args = [
      BUILD_SCRIPT, ...buildScriptTargetArgs(settings.targets), '--source', settings.source.path, '--pin', settings.pinFile, '--keymap', settings.keymap,
      '--overlay', join(work, 'overlay'), '--embed', join(work, 'embed.ipxe'), '--out', settings.ipxeDir, '--record', join(work, 'record.tsv'),
    ];
    if (previous) {
      await writeFile(join(work, 'reuse.tsv'), reuseRecord(previous));
      args.push('--reuse', join(work, 'reuse.tsv'));
    }
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('bash', args, { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new IpxeBuildError(`scripts/build-ipxe.sh failed (exit ${code}); the lines above say why`);
    const record = parseBuildRecord(await readFile(join(work, 'record.tsv'), 'utf8'));
    return await finishBuild(settings, record, previous);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Copies binaries a build left in `from` into data/ipxe after checking each against the record's SHA-256;
 * one already there with the same bytes is left alone and reported as reused. Each copy is written under a
 * temporary name and renamed, so a running server never serves half a file.
 */
export async function installOutputs(from: string, record: BuildRecord, ipxeDir: string): Promise<BuildRecord> {
  await mkdir(ipxeDir, { recursive: true });
  const outputs: BuildRecord['outputs'] = [];
  for (const output of record.outputs) {
    const source = join(from, output.file);
    const digest = await sha256File(source);
    if (digest !== output.sha256) throw new IpxeBuildError(`${output.file} from the build has SHA-256 ${digest}, not the ${output.sha256} its record says; run the build again`);
    const target = join(ipxeDir, output.file);
    if ((await sha256File(target).catch(() => undefined)) === digest) {
      outputs.push({ ...output, status: 'reused' });
      continue;
    }
    await copyFileAtomically(source, target);
    outputs.push({ ...output, status: 'built' });
  }
  return { ...record, outputs };
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/**
 * Writes manifest.json for a finished build (last, so a server watching it sees complete binaries), removes stale
 * ones and Debian's stock ones it did not replace, and says which required platforms still lack a first stage.
 */
export async function finishBuild(settings: IpxeBuildSettings, record: BuildRecord, previous: IpxeBuildManifest | undefined): Promise<IpxeBuildResult> {
  const manifest = createIpxeBuildManifest({ record, keymap: settings.keymap, httpPort: settings.httpPort, builtAt: (settings.now ?? (() => new Date()))(), previous });
  const removed = staleOutputs(previous, record);
  for (const file of removed) await rm(join(settings.ipxeDir, file), { force: true });
  const stockRemoved = await removeStockLeftovers(settings.ipxeDir, manifest);
  // The folder is the user's build from now on: a newer image must not replace it at the container's next start.
  await rm(join(settings.ipxeDir, SEEDED_MARKER), { force: true });
  await writeFileAtomically(join(settings.ipxeDir, IPXE_BUILD_MANIFEST_FILE), renderIpxeBuildManifest(manifest));
  const served = await findIpxeBinaries(settings.ipxeDir);
  return {
    manifest,
    built: record.outputs.filter((output) => output.status === 'built').map((output) => output.file),
    reused: record.outputs.filter((output) => output.status === 'reused').map((output) => output.file),
    removed,
    ...(stockRemoved === undefined ? {} : { stockRemoved }),
    requiredMissing: missingFirstStages(served).filter((missing) => missing.required),
  };
}

/** Every file name a build can put into data/ipxe, in table order; Debian's stock files (Dockerfile, IPXE_SOURCE=stock) are among them. */
const BUILD_OUTPUT_FILES: readonly string[] = PLATFORMS.flatMap((platform) => platform.build.outputs.map((output) => output.file));

/**
 * In a data/ipxe of Debian's stock binaries (STOCK_MARKER), removes those the new manifest does not list, then the
 * marker. Kept, they would pass for this build: ProxyDHCP sends other iPXE clients to bootstation's own build, and
 * stock iPXE, which has no embedded script, would loop. Runs before the manifest is written; without the marker
 * it removes nothing and returns undefined.
 */
async function removeStockLeftovers(ipxeDir: string, manifest: IpxeBuildManifest): Promise<string[] | undefined> {
  const marker = join(ipxeDir, STOCK_MARKER);
  if (!(await access(marker).then(() => true, () => false))) return undefined;
  const listed = new Set(manifest.outputs.map((output) => output.file));
  const present = await readdir(ipxeDir);
  const leftovers = BUILD_OUTPUT_FILES.filter((file) => present.includes(file) && !listed.has(file));
  for (const file of leftovers) await rm(join(ipxeDir, file), { force: true });
  await rm(marker, { force: true });
  return leftovers;
}
