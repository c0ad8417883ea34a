// Debian packages made at test time (an ar writer as deb(5) describes the format) and a fake Debian archive whose
// signed Release lists main/binary-amd64/Packages(.gz) naming them (or Debian's real ones, fetched with apt-get download),
// served by the HTTP fixture server.
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { buildTar } from './ingest-archives.ts';
import { releaseText, sha256, writeSignedRelease, type TestSigningKey } from './fake-release-trees.ts';

const run = promisify(execFile);

/** An ar archive ("!<arch>\n", then per member a 60-byte header and the data padded to an even length: ar(5)). */
export function arArchive(members: ReadonlyArray<{ name: string; content: Buffer; size?: string }>): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const member of members) {
    const field = (value: string, width: number): string => value.padEnd(width, ' ').slice(0, width);
    const header = field(member.name, 16) + field('1700000000', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(member.size ?? String(member.content.length), 10) + '`\n';
    parts.push(Buffer.from(header, 'latin1'), member.content);
    if (member.content.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** How a test package compresses its data.tar. */
export type DebCompression = 'xz' | 'gzip' | 'zstd' | 'none';

/** Compresses with the xz command (Node has no xz encoder), as dpkg-deb does by default. */
export async function xzCompress(bytes: Buffer): Promise<Buffer> {
  const child = spawn('xz', ['-c', '-6'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`xz exited with ${code}`))));
  });
  child.stdin.end(bytes);
  await done;
  return Buffer.concat(chunks);
}

async function compress(bytes: Buffer, compression: DebCompression): Promise<Buffer> {
  if (compression === 'gzip') return gzipSync(bytes);
  if (compression === 'zstd') return zstdCompressSync(bytes);
  if (compression === 'xz') return xzCompress(bytes);
  return bytes;
}

const DATA_SUFFIX: Record<DebCompression, string> = { xz: '.xz', gzip: '.gz', zstd: '.zst', none: '' };

/**
 * A .deb in deb(5)'s layout: debian-binary "2.0\n", control.tar.gz with a control file, data.tar[.xz|.gz|.zst] holding
 * `files` (paths as dpkg-deb writes them: "./boot/x"); `extraMembers` go between control.tar and data.tar.
 */
export async function buildDeb(
  files: Record<string, string>,
  options: { package?: string; version?: string; compression?: DebCompression; extraMembers?: Array<{ name: string; content: Buffer }> } = {},
): Promise<Buffer> {
  const compression = options.compression ?? 'xz';
  const control = `Package: ${options.package ?? 'memtest86+'}\nVersion: ${options.version ?? '6.10-4'}\nArchitecture: amd64\nMaintainer: Test <test@example.invalid>\nDescription: test package\n`;
  const controlTar = gzipSync(await buildTar([{ name: './control', content: control }]));
  const dataTar = await buildTar(Object.entries(files).map(([name, content]) => ({ name, content })));
  return arArchive([
    { name: 'debian-binary', content: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', content: controlTar },
    ...(options.extraMembers ?? []),
    { name: `data.tar${DATA_SUFFIX[compression]}`, content: await compress(dataTar, compression) },
  ]);
}

/** A fake memtest86+ package with the files of Debian's (boot/memtest86+{x64,ia32}.{bin,efi}), each holding its own name and `tag`. */
export function fakeMemtestDeb(tag: string, options: { version?: string; compression?: DebCompression } = {}): Promise<Buffer> {
  const files = Object.fromEntries(['x64.bin', 'x64.efi', 'ia32.bin', 'ia32.efi'].map((suffix) => [`./boot/memtest86+${suffix}`, `memtest86+${suffix} ${tag}`]));
  return buildDeb({ ...files, './usr/share/doc/memtest86+/copyright': 'GPL-2' }, { ...(options.version ? { version: options.version } : {}), ...(options.compression ? { compression: options.compression } : {}) });
}

/** One package of the fake archive. */
export interface FakePackage {
  name: string;
  version: string;
  deb: Buffer;
}

/** What writeDebianPackageTree wrote, for tests that tamper with one of them. */
export interface FakePackageTree {
  dists: string;
  release: string;
  inRelease: string;
  packagesGz: string;
  /** The .deb of each package by name. */
  debs: Record<string, string>;
  /** Each package's Filename (below the tree root). */
  filenames: Record<string, string>;
}

/** A package's paragraph as Debian's Packages index writes it (abridged to the fields dak always writes). */
export function packageParagraph(pkg: FakePackage, filename: string): string {
  return [
    `Package: ${pkg.name}`,
    `Source: ${pkg.name}`,
    `Version: ${pkg.version}`,
    'Installed-Size: 1234',
    'Maintainer: Test <test@example.invalid>',
    'Architecture: amd64',
    `Description: the ${pkg.name} package`,
    'Multi-Arch: foreign',
    'Homepage: https://example.invalid',
    'Description-md5: 0123456789abcdef0123456789abcdef',
    'Section: misc',
    'Priority: optional',
    `Filename: ${filename}`,
    `Size: ${pkg.deb.length}`,
    `MD5sum: ${'0'.repeat(32)}`,
    `SHA256: ${sha256(pkg.deb)}`,
    '',
  ].join('\n');
}

/** What writePackageIndex wrote: the index files a signed Release must list (by path below dists/<codename>) and where. */
export interface FakePackageIndex {
  indexes: Record<string, Buffer>;
  packagesGz: string;
  /** The .deb of each package by name. */
  debs: Record<string, string>;
  /** Each package's Filename (below the tree root). */
  filenames: Record<string, string>;
}

/**
 * Writes <root>/pool/main/<p>/<name>/<name>_<version>_amd64.deb for each package and dists/<codename>/main/binary-amd64/
 * {Packages, Packages.gz} listing them after `filler` other paragraphs (Debian's index is 60,000 packages long); signs
 * nothing (the caller's Release lists `indexes`). `paragraph` may rewrite a package's paragraph (to test hostile indexes).
 */
export async function writePackageIndex(
  root: string,
  codename: string,
  packages: readonly FakePackage[],
  options: { filler?: number; paragraph?: (text: string, pkg: FakePackage) => string } = {},
): Promise<FakePackageIndex> {
  const debs: Record<string, string> = {};
  const filenames: Record<string, string> = {};
  const paragraphs: string[] = [];
  for (let i = 0; i < (options.filler ?? 50); i++) {
    paragraphs.push(packageParagraph({ name: `filler-${i}`, version: `1.${i}-1`, deb: Buffer.from(`filler ${i}`) }, `pool/main/f/filler-${i}/filler-${i}_1.${i}-1_amd64.deb`));
  }
  for (const pkg of packages) {
    const filename = `pool/main/${pkg.name[0]}/${pkg.name}/${pkg.name}_${pkg.version}_amd64.deb`;
    await put(join(root, filename), pkg.deb);
    debs[pkg.name] = join(root, filename);
    filenames[pkg.name] = filename;
    const text = packageParagraph(pkg, filename);
    paragraphs.push(options.paragraph ? options.paragraph(text, pkg) : text);
  }
  const index = Buffer.from(paragraphs.join('\n'));
  const gz = gzipSync(index);
  const binary = join(root, 'dists', codename, 'main', 'binary-amd64');
  await put(join(binary, 'Packages'), index);
  await put(join(binary, 'Packages.gz'), gz);
  return { indexes: { 'main/binary-amd64/Packages': index, 'main/binary-amd64/Packages.gz': gz }, packagesGz: join(binary, 'Packages.gz'), debs, filenames };
}

/**
 * writePackageIndex's pool and indexes, and the Release listing both indexes, signed by `key`; dists/<suite> links
 * to dists/<codename>.
 */
export async function writeDebianPackageTree(
  root: string,
  release: { codename: string; suite: string; version: string },
  packages: readonly FakePackage[],
  key: TestSigningKey,
  options: { filler?: number; paragraph?: (text: string, pkg: FakePackage) => string } = {},
): Promise<FakePackageTree> {
  const dists = join(root, 'dists', release.codename);
  const { indexes, packagesGz, debs, filenames } = await writePackageIndex(root, release.codename, packages, options);
  await writeSignedRelease(dists, releaseText(release, indexes), key);
  await symlink(release.codename, join(root, 'dists', release.suite)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return { dists, release: join(dists, 'Release'), inRelease: join(dists, 'InRelease'), packagesGz, debs, filenames };
}

/**
 * Debian's own package `name` for amd64 as the configured apt sources have it, fetched into `dir` with `apt-get download`
 * (Debian's package mirrors only), with its version from the file name (the epoch's ":" is "%3a" there).
 */
export async function downloadDebianPackage(name: string, dir: string): Promise<FakePackage> {
  await mkdir(dir, { recursive: true });
  await run('apt-get', ['download', name], { cwd: dir, timeout: 300_000 });
  const file = (await readdir(dir)).find((entry) => entry.startsWith(`${name}_`) && entry.endsWith('_amd64.deb'));
  if (!file) throw new Error(`apt-get download ${name} left no ${name}_<version>_amd64.deb in ${dir}`);
  const version = file.slice(name.length + 1, -'_amd64.deb'.length).replace('%3a', ':');
  return { name, version, deb: await readFile(join(dir, file)) };
}

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
