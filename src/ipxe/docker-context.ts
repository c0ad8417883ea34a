// The Docker iPXE stage: its Dockerfile text, build arguments and the packed build context.
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { renderEmbedScript } from './embed-script.ts';
import type { IpxeKeymap } from './keymap.ts';
import { renderOverlay } from './overlay.ts';
import { PLATFORMS } from '../boot/platform.ts';
import { buildScriptTargetArgs, DEFAULT_TARGETS, type IpxeTargetName } from './targets.ts';

/** The Dockerfile stage that builds iPXE; the project Dockerfile carries the same text (a unit test checks it). */
export const IPXE_STAGE = 'ipxe';

/** Where the stage leaves the binaries and scripts/build-ipxe.sh's record. */
export const STAGE_OUTPUT_DIR = '/out';

/** The record's name inside STAGE_OUTPUT_DIR. */
export const STAGE_RECORD = 'build-record.tsv';

/** The file in STAGE_OUTPUT_DIR naming the keymap the binaries were built with (the record does not carry it). */
export const STAGE_KEYMAP_FILE = 'keymap';

/** The files the stock stage copies from Debian's ipxe package: the build outputs of the platforms it ships. */
const DEBIAN_IPXE_FILES = PLATFORMS.filter((platform) => platform.inDebianIpxe).flatMap((platform) => platform.build.outputs.map((output) => output.file));

/** Base image of the stage when BOOTSTATION_IPXE_BASE_IMAGE does not name another (it needs apt-get). */
export const DEFAULT_BASE_IMAGE = 'debian:bookworm-slim';

/**
 * The Dockerfile of the iPXE build stage, defined here once: `bootstation ipxe build` streams it with a
 * generated context, and the project Dockerfile holds the same lines verbatim (the unit test
 * ipxe-docker-context.test.ts fails when they drift, and says how to copy them over). Both contexts have
 * the same layout: scripts/build-ipxe.sh and ipxe-src/ (overlay, pin.json, embed.ipxe, source/<name>).
 */
export function renderIpxeDockerfile(): string {
  return [
    "# bootstation's iPXE build stage, defined in src/ipxe/docker-context.ts (renderIpxeDockerfile); the project",
    '# Dockerfile holds the same lines, checked by test/integration/ipxe-docker-context.test.ts. The build context holds',
    '# scripts/build-ipxe.sh and ipxe-src/ (config/local overlay, pin.json, embed.ipxe, optional source/<name>).',
    '# IPXE_SOURCE: "pinned" (the default) downloads the release ipxe-src/pin.json names, from IPXE_MIRROR when',
    '# that is set; the name of a file under ipxe-src/source/ builds that copy (air-gapped sites). Either tarball',
    '# is checked against the pin (decompressed tar stream SHA-256, pax-header commit) by scripts/build-ipxe.sh',
    '# before anything is compiled, as `bootstation ipxe build` checks it; a folder there is built as it is.',
    '# "stock" copies the binaries of Debian\'s ipxe package instead (no compiler, no keymap, no embedded script,',
    `# no ${PLATFORMS.filter((platform) => !platform.inDebianIpxe).map((platform) => platform.firstStage).join(' or ')}).`,
    '# iPXE is firmware for the clients, not for the host: the stage runs on the build machine (BUILDPLATFORM) and',
    '# cross-compiles, also when the image is for another platform. The classic builder does not set BUILDPLATFORM;',
    '# "linux" then means the engine\'s own platform. An ARG default would override BuildKit\'s value, hence :-.',
    `ARG DEBIAN_IMAGE=${DEFAULT_BASE_IMAGE}`,
    `FROM --platform=\${BUILDPLATFORM:-linux} \${DEBIAN_IMAGE} AS ${IPXE_STAGE}`,
    `ARG TARGETS=${DEFAULT_TARGETS.join(',')}`,
    'ARG IPXE_SOURCE=pinned',
    '# Every target the script can build (name:CPU:make goal=served file), from src/boot/platform.ts; TARGETS picks.',
    `ENV BUILD_IPXE_TARGETS="${buildScriptTargetArgs().join(' ')}"`,
    'COPY scripts/build-ipxe.sh /build/build-ipxe.sh',
    '# The script names the packages TARGETS need on this machine: gcc-aarch64-linux-gnu on x86, the x86 cross',
    '# compilers on arm64 (the same Dockerfile builds on both). curl fetches the pinned release.',
    'RUN apt-get update \\',
    ' && case "${IPXE_SOURCE}" in \\',
    '      stock) apt-get install -y --no-install-recommends ipxe ;; \\',
    '      pinned) apt-get install -y --no-install-recommends $(bash /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --packages --targets "${TARGETS}") curl ca-certificates ;; \\',
    '      *) apt-get install -y --no-install-recommends $(bash /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --packages --targets "${TARGETS}") ;; \\',
    '    esac \\',
    ' && rm -rf /var/lib/apt/lists/*',
    'COPY ipxe-src/ /build/ipxe-src/',
    'ARG IPXE_MIRROR=',
    'ARG KEYMAP=us',
    `RUN set -eu; mkdir -p ${STAGE_OUTPUT_DIR}; \\`,
    '    case "${IPXE_SOURCE}" in \\',
    `      stock) cp ${DEBIAN_IPXE_FILES.map((file) => `/usr/lib/ipxe/${file}`).join(' ')} ${STAGE_OUTPUT_DIR}/; exit 0 ;; \\`,
    "      pinned) url=\"${IPXE_MIRROR:-$(perl -MJSON::PP -0777 -ne 'print decode_json($_)->{url}' /build/ipxe-src/pin.json)}\"; \\",
    '        curl -fsSL --retry 2 -o /build/ipxe-release "$url" \\',
    '          || { echo "build-ipxe: the iPXE source could not be downloaded from $url (curl says why above); set IPXE_MIRROR to a copy this build can reach, or put the release tarball under ipxe-src/source/ and name it with IPXE_SOURCE" >&2; exit 1; }; \\',
    '        source=/build/ipxe-release ;; \\',
    '      *) source="/build/ipxe-src/source/${IPXE_SOURCE}" ;; \\',
    '    esac; \\',
    `    printf '%s\\n' "\${KEYMAP}" > ${STAGE_OUTPUT_DIR}/${STAGE_KEYMAP_FILE}; \\`,
    '    /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --pin /build/ipxe-src/pin.json --source "$source" --keymap "${KEYMAP}" --targets "${TARGETS}" \\',
    `      --overlay /build/ipxe-src --embed /build/ipxe-src/embed.ipxe --out ${STAGE_OUTPUT_DIR} --record ${STAGE_OUTPUT_DIR}/${STAGE_RECORD}`,
    '',
  ].join('\n');
}

/** One generated file of the build context. */
export interface ContextFile {
  name: string;
  content: string;
  mode: number;
}

/** The generated part of the build context: Dockerfile, the build script, the overlay for the keymap, the embedded script and the pin. */
export function contextFiles(options: { keymap: IpxeKeymap; httpPort: number; buildScript: string; pinText: string }): ContextFile[] {
  const overlay = Object.entries(renderOverlay()).map(([path, content]) => ({ name: `ipxe-src/${path}`, content, mode: 0o644 }));
  return [
    { name: 'Dockerfile', content: renderIpxeDockerfile(), mode: 0o644 },
    { name: 'scripts/build-ipxe.sh', content: options.buildScript, mode: 0o755 },
    ...overlay,
    { name: 'ipxe-src/embed.ipxe', content: renderEmbedScript(options.httpPort, options.keymap), mode: 0o644 },
    { name: 'ipxe-src/pin.json', content: options.pinText, mode: 0o644 },
  ];
}

/** Build arguments for the stage. */
export function buildArgs(options: { keymap: IpxeKeymap; targets: readonly IpxeTargetName[]; sourceName: string; baseImage: string }): Record<string, string> {
  return { KEYMAP: options.keymap, TARGETS: options.targets.join(','), IPXE_SOURCE: options.sourceName, DEBIAN_IMAGE: options.baseImage };
}

/** The name the source gets under ipxe-src/source/ in the context: the tarball's own name, or "ipxe" for a folder. */
export function contextSourceName(source: { path: string; kind: 'dir' | 'tarball' }): string {
  return source.kind === 'dir' ? 'ipxe' : basename(source.path);
}

// A fixed time keeps the same inputs byte-identical, so Docker's build cache can reuse the layers.
const MTIME = new Date(0);

/**
 * Streams the build context as a tar: the generated files, then the iPXE source under ipxe-src/source/ (a folder
 * without its .git and earlier build products, or the tarball as it is).
 */
export function packBuildContext(files: readonly ContextFile[], source: { path: string; kind: 'dir' | 'tarball' }): tar.Pack {
  const pack = tar.pack();
  void (async () => {
    for (const file of files) pack.entry({ name: file.name, mode: file.mode, mtime: MTIME }, file.content);
    const name = `ipxe-src/source/${contextSourceName(source)}`;
    if (source.kind === 'tarball') await addFile(pack, source.path, name, 0o644);
    else await addTree(pack, source.path, name);
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error as Error));
  return pack;
}

// Build products of an earlier in-tree build (src/bin*, hundreds of MB) and .git never go to Docker.
function skipped(relative: string): boolean {
  return relative === '.git' || /^src\/bin(-|$)/.test(relative);
}

async function addTree(pack: tar.Pack, root: string, prefix: string, relative = ''): Promise<void> {
  const entries = (await readdir(join(root, relative))).sort();
  for (const entry of entries) {
    const path = relative === '' ? entry : `${relative}/${entry}`;
    if (skipped(path)) continue;
    const full = join(root, path);
    const stat = await lstat(full);
    if (stat.isDirectory()) await addTree(pack, root, prefix, path);
    else if (stat.isSymbolicLink()) pack.entry({ name: `${prefix}/${path}`, type: 'symlink', linkname: await readlink(full), mtime: MTIME });
    else if (stat.isFile()) await addFile(pack, full, `${prefix}/${path}`, stat.mode & 0o111 ? 0o755 : 0o644);
  }
}

async function addFile(pack: tar.Pack, path: string, name: string, mode: number): Promise<void> {
  const { size } = await lstat(path);
  const entry = pack.entry({ name, size, mode, mtime: MTIME });
  await pipeline(createReadStream(path), entry);
}
