// Fake distro download sites in their documented layouts (Debian dists/ signed by a test key, Alpine's
// latest-releases.yaml, Arch's iso/ folders), written into a folder and served by the HTTP fixture server.
import { createHash } from 'node:crypto';
import { readFile, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { buildTar } from './ingest-archives.ts';
import { startHttpFixture, sendBody } from './http-fixture-server.ts';

/** An OpenPGP key made at test time: the private key signs fake Release files, the keyring file holds the public key. */
export interface TestSigningKey {
  privateKey: openpgp.PrivateKey;
  /** The binary public keyring (what /usr/share/keyrings/*.gpg files are). */
  keyring: Uint8Array;
}

/** A new ed25519 signing key (takes a few milliseconds). */
export async function generateTestSigningKey(name = 'bootstation test archive'): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name }], format: 'object' });
  return { privateKey, keyring: publicKey.write() };
}

/** Writes the key's public keyring into `path` (a binary .gpg file) and returns the path. */
export async function writeKeyring(path: string, key: TestSigningKey): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, key.keyring);
  return path;
}

/** One Debian release of the fake archive. */
export interface FakeDebianRelease {
  codename: string;
  /** The suite that points at it (a symlink dists/<suite> → <codename>, as on Debian's mirrors). */
  suite: string;
  version: string;
  /** The files of netboot.tar.gz's debian-installer/amd64/. */
  linux: string | Buffer;
  initrd: string | Buffer;
}

/** Paths of what writeDebianTree wrote, for tests that tamper with one of them. */
export interface FakeDebianTree {
  /** dists/<codename>/ below the tree root. */
  dists: string;
  release: string;
  inRelease: string;
  releaseGpg: string;
  sums: string;
  netboot: string;
}

const IMAGES = 'main/installer-amd64/current/images';

/**
 * Writes <root>/dists/<codename>/{Release,InRelease,Release.gpg} signed by `key`, the Release listing
 * main/installer-amd64/current/images/SHA256SUMS, which lists ./netboot/netboot.tar.gz (and a gtk one before it, as
 * Debian's does) holding debian-installer/amd64/{linux,initrd.gz}; dists/<suite> links to dists/<codename>.
 */
export async function writeDebianTree(root: string, release: FakeDebianRelease, key: TestSigningKey): Promise<FakeDebianTree> {
  const dists = join(root, 'dists', release.codename);
  const images = join(dists, IMAGES);
  const netboot = gzipSync(
    await buildTar([
      { name: './debian-installer/amd64/linux', content: release.linux },
      { name: './debian-installer/amd64/initrd.gz', content: release.initrd },
    ]),
  );
  const gtk = gzipSync(await buildTar([{ name: './debian-installer/amd64/gtk', content: 'gtk' }]));
  await put(join(images, 'netboot/netboot.tar.gz'), netboot);
  await put(join(images, 'netboot/gtk/netboot.tar.gz'), gtk);
  const sums = `${sha256(gtk)}  ./netboot/gtk/netboot.tar.gz\n${sha256(netboot)}  ./netboot/netboot.tar.gz\n`;
  await put(join(images, 'SHA256SUMS'), sums);
  await writeSignedRelease(dists, releaseText(release, { [`${IMAGES}/SHA256SUMS`]: Buffer.from(sums) }), key);
  await symlink(release.codename, join(root, 'dists', release.suite)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return {
    dists,
    release: join(dists, 'Release'),
    inRelease: join(dists, 'InRelease'),
    releaseGpg: join(dists, 'Release.gpg'),
    sums: join(images, 'SHA256SUMS'),
    netboot: join(images, 'netboot/netboot.tar.gz'),
  };
}

/** A Release file's text in Debian's layout (deb822, the SHA256 section with size and path per line). */
export function releaseText(release: Pick<FakeDebianRelease, 'codename' | 'suite' | 'version'>, files: Record<string, Buffer>): string {
  const lines = Object.entries(files).map(([path, bytes]) => ` ${sha256(bytes)} ${String(bytes.length).padStart(8)} ${path}`);
  return [
    'Origin: Debian',
    'Label: Debian',
    `Suite: ${release.suite}`,
    `Version: ${release.version}`,
    `Codename: ${release.codename}`,
    'Date: Sat, 09 Nov 2024 10:05:37 UTC',
    'Architectures: all amd64 arm64 i386',
    'Components: main contrib non-free-firmware non-free',
    'Description: Debian test archive',
    'SHA256:',
    ...lines,
    '',
  ].join('\n');
}

/** Writes Release, InRelease (clear-signed) and Release.gpg (detached, armoured) into `dists` with `key`. */
export async function writeSignedRelease(dists: string, text: string, key: TestSigningKey): Promise<void> {
  await put(join(dists, 'Release'), text);
  const clear = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: key.privateKey });
  await put(join(dists, 'InRelease'), clear);
  const detached = await openpgp.sign({ message: await openpgp.createMessage({ binary: Buffer.from(text) }), signingKeys: key.privateKey, detached: true });
  await put(join(dists, 'Release.gpg'), detached);
}

/**
 * Writes <root>/v<major.minor>/releases/x86_64/{latest-releases.yaml, alpine-netboot-<version>-x86_64.tar.gz} with
 * boot/{vmlinuz,initramfs,modloop}-lts; `latest` also links latest-stable to that branch.
 */
export async function writeAlpineTree(root: string, release: { version: string; files: Record<string, string>; latest: boolean }): Promise<{ folder: string; index: string; archive: string }> {
  const branch = `v${release.version.split('.').slice(0, 2).join('.')}`;
  const folder = join(root, branch, 'releases', 'x86_64');
  const file = `alpine-netboot-${release.version}-x86_64.tar.gz`;
  const archive = gzipSync(await buildTar(Object.entries(release.files).map(([name, content]) => ({ name, content }))));
  await put(join(folder, file), archive);
  // Every release file has its <file>.sha256 (sha256sum output) next to it.
  await put(join(folder, `${file}.sha256`), `${sha256(archive)}  ${file}\n`);
  // The layout of the real index: a YAML list, one mapping per flavor (standard, extended, netboot, ...).
  const yaml = [
    '---',
    '-',
    '  title: "Standard"',
    '  flavor: alpine-standard',
    `  version: ${release.version}`,
    `  file: alpine-standard-${release.version}-x86_64.iso`,
    `  sha256: ${'0'.repeat(64)}`,
    `  branch: ${branch}`,
    '-',
    '  title: "Netboot"',
    '  desc: "Kernel, initramfs and modloop for netboot"',
    '  profile: netboot',
    '  arch: x86_64',
    `  version: ${release.version}`,
    '  flavor: alpine-netboot',
    `  file: ${file}`,
    `  size: ${archive.length}`,
    `  sha256: ${sha256(archive)}`,
    `  branch: ${branch}`,
    '',
  ].join('\n');
  await put(join(folder, 'latest-releases.yaml'), yaml);
  if (release.latest) {
    await symlink(branch, join(root, 'latest-stable')).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  return { folder, index: join(folder, 'latest-releases.yaml'), archive: join(folder, file) };
}

/** Writes <root>/iso/<version>/{archlinux-<version>-x86_64.iso, archlinux-x86_64.iso, sha256sums.txt}; `latest` links iso/latest there. */
export async function writeArchTree(root: string, release: { version: string; iso: Buffer; latest: boolean }): Promise<{ folder: string; sums: string; iso: string }> {
  const folder = join(root, 'iso', release.version);
  const file = `archlinux-${release.version}-x86_64.iso`;
  await put(join(folder, file), release.iso);
  await put(join(folder, 'archlinux-x86_64.iso'), release.iso);
  // archlinux.org's sha256sums.txt: sha256sum output for the ISO, its generic name and the bootstrap tarballs.
  await put(join(folder, 'sha256sums.txt'), `${sha256(release.iso)}  ${file}\n${sha256(release.iso)}  archlinux-x86_64.iso\n${'1'.repeat(64)}  archlinux-bootstrap-${release.version}-x86_64.tar.zst\n`);
  if (release.latest) {
    await symlink(release.version, join(root, 'iso', 'latest')).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  return { folder, sums: join(folder, 'sha256sums.txt'), iso: join(folder, file) };
}

/** Serves the files below `root` (symlinks followed) on 127.0.0.1 with Range support; 404 for anything else. */
export async function serveTree(root: string): Promise<Awaited<ReturnType<typeof startHttpFixture>>> {
  return startHttpFixture((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://fixture').pathname));
    const file = join(root, path);
    void stat(file)
      .then(async (stats) => {
        if (!stats.isFile() || !file.startsWith(root)) throw new Error('not a file');
        sendBody(request, response, await readFile(file), { ranges: true });
      })
      .catch(() => response.writeHead(404).end());
  });
}

/** The hex SHA-256 of bytes. */
export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function put(path: string, content: string | Buffer | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
