// `bootstation ipxe build`: resolves keymap, port, targets and source, then builds iPXE locally or in Docker.
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import got from 'got';
import { loadConfigFile } from '../config/load.ts';
import { dataLayout } from '../files/data-dir.ts';
import { fetchPinnedIpxeSource } from '../ingest/ipxe-release.ts';
import { buildLocally, resolveSource, type IpxeBuildResult, type IpxeBuildSettings } from '../ipxe/build.ts';
import { DEFAULT_BASE_IMAGE } from '../ipxe/docker-context.ts';
import { buildInDocker } from '../ipxe/docker-build.ts';
import { DEFAULT_KEYMAP, type IpxeKeymap } from '../ipxe/keymap.ts';
import { IPXE_BUILD_MANIFEST_FILE } from '../ipxe/manifest.ts';
import { loadPin, PIN_FILE } from '../ipxe/pin.ts';
import { DEFAULT_TARGETS, type IpxeTargetName } from '../ipxe/targets.ts';

/** Options of `bootstation ipxe build`; undefined means "take it from images.yaml" (keymap, port) or the default. */
export interface IpxeBuildOptions {
  configPath: string;
  dataDir: string;
  keymap?: IpxeKeymap;
  targets?: readonly IpxeTargetName[];
  /** A local copy (tarball checked against the pin, or a folder built as it is) instead of a download. */
  source?: string;
  /** Where to download the pinned release from instead of the pin's URL. */
  mirror?: string;
  /** Another pin file instead of ipxe-src/pin.json. */
  pin?: string;
  local: boolean;
  httpPort?: number;
}

/** `bootstation ipxe build`: builds iPXE with the keymap and embedded script into <data>/ipxe, on this host or in Docker. */
export async function runIpxeBuild(options: IpxeBuildOptions, env: NodeJS.ProcessEnv): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const config = await loadConfigFile(options.configPath, { dataDir });
  const log = (line: string): void => void process.stdout.write(`bootstation: ${line}\n`);
  const pinFile = options.pin === undefined ? PIN_FILE : resolve(options.pin);
  // Read before anything else, so a broken pin stops the build before a download or a Docker build.
  const pin = await loadPin(pinFile);
  const source = options.source !== undefined
    ? await resolveSource(resolve(options.source))
    : await fetchPinnedIpxeSource({ pin, mirror: options.mirror, dataDir, http: got, log });
  const settings: IpxeBuildSettings = {
    keymap: options.keymap ?? config.ipxe.keymap ?? DEFAULT_KEYMAP,
    targets: options.targets ?? DEFAULT_TARGETS,
    httpPort: options.httpPort ?? config.server.httpPort,
    source,
    pinFile,
    ipxeDir: dataLayout(dataDir).ipxe,
    log,
  };
  log(`building iPXE for ${settings.targets.join(', ')} with keymap ${settings.keymap} and /boot.ipxe on HTTP port ${settings.httpPort}, from ${source.path}`);
  const result = options.local
    ? await buildLocally(settings)
    : await buildInDocker({ ...settings, docker: new Docker(), baseImage: env['BOOTSTATION_IPXE_BASE_IMAGE'] ?? DEFAULT_BASE_IMAGE, progress: (text) => void process.stdout.write(text) });
  report(result, settings, log);
  return 0;
}

function report(result: IpxeBuildResult, settings: IpxeBuildSettings, log: (line: string) => void): void {
  if (result.built.length > 0) log(`built ${result.built.join(', ')}`);
  if (result.reused.length > 0) log(`unchanged, kept ${result.reused.join(', ')}`);
  if (result.removed.length > 0) log(`removed ${result.removed.join(', ')}: they came from a build with another keymap, port or source`);
  if (result.stockRemoved !== undefined && result.stockRemoved.length > 0) {
    log(`removed Debian's stock ${result.stockRemoved.join(', ')} (an image built with IPXE_SOURCE=stock put them there): this build did not replace them, and iPXE clients sent to stock iPXE, which has no embedded script, would loop`);
  } else if (result.stockRemoved !== undefined) {
    log("replaced Debian's stock iPXE binaries (an image built with IPXE_SOURCE=stock put them there)");
  }
  log(`wrote ${join(settings.ipxeDir, IPXE_BUILD_MANIFEST_FILE)} (iPXE ${result.manifest.version}, keymap ${result.manifest.keymap}); a running bootstation serve picks the binaries up within a second`);
  // The fix is missingFirstStages' (the doctor and the dashboard name the same one).
  for (const missing of result.requiredMissing) {
    log(`warning: ${missing.displayName} clients get no answer: ${missing.file} is not in ${settings.ipxeDir}; ${missing.fix}`);
  }
}
