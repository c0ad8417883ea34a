// Fake project download sites in their documented layouts, written into a folder for serveTree: Fedora's releases.json
// with the ISOs below pub/fedora/linux/, SystemRescue's releases/<version>/ with each ISO's .sha256, and the stable
// CHECKSUMS.TXT of GParted Live and Clonezilla live with their zips in SourceForge's folders. ISOs are mastered by
// xorriso (callers skip with xorrisoMissing()).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildStoredZip } from './ingest-archives.ts';
import { masterIso, writeTree } from './iso-fixtures.ts';
import { sha256 } from './fake-release-trees.ts';

/** The download site's host in Fedora's real releases.json; the resolver keeps the path below it on a mirror. */
export const FEDORA_DOWNLOADS = 'https://download.fedoraproject.org/';

/** Files of a Fedora live ISO (lorax layout), by path. */
export function fedoraIsoFiles(tag: string): Record<string, string> {
  return { 'images/pxeboot/vmlinuz': `fedora kernel ${tag}`, 'images/pxeboot/initrd.img': `fedora initrd ${tag}`, 'LiveOS/squashfs.img': `fedora root ${tag}` };
}

/**
 * Writes <root>/releases.json and, per release, its Workstation live ISO at
 * pub/fedora/linux/releases/<version>/Workstation/x86_64/iso/Fedora-Workstation-Live-<version>-1.1.x86_64.iso.
 * The index also lists what Fedora's does beside it: a beta of the next release (its ISO not on the site, so a
 * resolver that took it would fail), a KDE spin, an aarch64 image and a cloud image. Returns the ISO paths by version.
 */
export async function writeFedoraTree(root: string, releases: Array<{ version: string; files: Record<string, string> }>): Promise<{ index: string; isos: Map<string, string> }> {
  const isos = new Map<string, string>();
  const entries: Array<Record<string, string>> = [];
  for (const release of releases) {
    const path = `pub/fedora/linux/releases/${release.version}/Workstation/x86_64/iso/Fedora-Workstation-Live-${release.version}-1.1.x86_64.iso`;
    const iso = await mastered(root, release.files, join(root, path));
    isos.set(release.version, join(root, path));
    // The fields of fedoraproject.org/releases.json (size is a string there).
    entries.push({ version: release.version, arch: 'x86_64', variant: 'Workstation', subvariant: 'Workstation', link: FEDORA_DOWNLOADS + path, sha256: sha256(iso), size: String(iso.length) });
    entries.push({ version: release.version, arch: 'aarch64', variant: 'Workstation', subvariant: 'Workstation', link: `${FEDORA_DOWNLOADS}pub/fedora/linux/releases/${release.version}/Workstation/aarch64/images/Fedora-Workstation-${release.version}-1.1.aarch64.raw.xz`, sha256: '0'.repeat(64), size: '1' });
    entries.push({ version: release.version, arch: 'x86_64', variant: 'Spins', subvariant: 'KDE', link: `${FEDORA_DOWNLOADS}pub/fedora/linux/releases/${release.version}/Spins/x86_64/iso/Fedora-KDE-Live-${release.version}-1.1.x86_64.iso`, sha256: '0'.repeat(64), size: '1' });
  }
  const next = Math.max(...releases.map((release) => Number(release.version))) + 1;
  entries.push({ version: `${next} Beta`, arch: 'x86_64', variant: 'Workstation', subvariant: 'Workstation', link: `${FEDORA_DOWNLOADS}pub/fedora/linux/releases/test/${next}_Beta/Workstation/x86_64/iso/Fedora-Workstation-Live-${next}_Beta-1.1.x86_64.iso`, sha256: '1'.repeat(64), size: '1' });
  const index = join(root, 'releases.json');
  await put(index, JSON.stringify(entries, null, 2));
  return { index, isos };
}

/** Files of a SystemRescue ISO (archiso layout), by path. */
export function systemRescueIsoFiles(tag: string): Record<string, string> {
  return {
    'sysresccd/boot/intel_ucode.img': 'intel ucode',
    'sysresccd/boot/amd_ucode.img': 'amd ucode',
    'sysresccd/boot/x86_64/vmlinuz': `sysrescue kernel ${tag}`,
    'sysresccd/boot/x86_64/sysresccd.img': `sysrescue initramfs ${tag}`,
    'sysresccd/x86_64/airootfs.sfs': `sysrescue root ${tag}`,
  };
}

/** Writes <root>/releases/<version>/systemrescue-<version>-amd64.iso and its .sha256 (sha256sum output) beside it. */
export async function writeSystemRescueTree(root: string, release: { version: string; files: Record<string, string> }): Promise<{ iso: string; sums: string }> {
  const file = `systemrescue-${release.version}-amd64.iso`;
  const path = join(root, 'releases', release.version, file);
  const iso = await mastered(root, release.files, path);
  await put(`${path}.sha256`, `${sha256(iso)}  ${file}\n`);
  return { iso: path, sums: `${path}.sha256` };
}

/** Where each DRBL project keeps its stable CHECKSUMS.TXT and its zips, below a mirror of its sites. */
const DRBL = {
  gparted: { index: 'gparted-live/stable/CHECKSUMS.TXT', folder: 'gparted-live-stable', name: 'gparted-live' },
  clonezilla: { index: 'downloads/stable/data/CHECKSUMS.TXT', folder: 'clonezilla_live_stable', name: 'clonezilla-live' },
} as const;

/** Files of a GParted or Clonezilla live zip, by path. */
export function drblZipFiles(tag: string): Record<string, string> {
  return { 'live/vmlinuz': `live kernel ${tag}`, 'live/initrd.img': `live initrd ${tag}`, 'live/filesystem.squashfs': `live root ${tag}` };
}

/**
 * Writes the stable release of a DRBL project: <folder>/<version>/<name>-<version>-amd64.zip and the CHECKSUMS.TXT
 * that names it (and its .iso) under each algorithm's heading, as the project's own site publishes it.
 */
export async function writeDrblTree(root: string, project: keyof typeof DRBL, release: { version: string; files: Record<string, string> }): Promise<{ index: string; zip: string }> {
  const layout = DRBL[project];
  const file = `${layout.name}-${release.version}-amd64.zip`;
  const zip = buildStoredZip(Object.entries(release.files).map(([name, content]) => ({ name, content })));
  const path = join(root, layout.folder, release.version, file);
  await put(path, zip);
  const iso = `${layout.name}-${release.version}-amd64.iso`;
  const list = [
    '### MD5SUMS:',
    `${'1'.repeat(32)}  ${iso}`,
    `${'2'.repeat(32)}  ${file}`,
    '',
    '### SHA256SUMS:',
    `${'3'.repeat(64)}  ${iso}`,
    `${sha256(zip)}  ${file}`,
    '',
    '### B2SUMS:',
    `${'4'.repeat(128)}  ${file}`,
    '',
  ].join('\n');
  const index = join(root, layout.index);
  await put(index, list);
  return { index, zip: path };
}

async function mastered(root: string, files: Record<string, string>, isoPath: string): Promise<Buffer> {
  await mkdir(root, { recursive: true });
  const source = await mkdtemp(join(root, '.iso-source-'));
  try {
    await writeTree(source, files);
    await mkdir(dirname(isoPath), { recursive: true });
    // xorriso will not overwrite an image (a release written again).
    await rm(isoPath, { force: true });
    await masterIso(source, isoPath, ['-rockridge', 'on']);
  } finally {
    await rm(source, { recursive: true, force: true });
  }
  return readFile(isoPath);
}

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
