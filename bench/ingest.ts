// Scenario 6: kernel, initrd and a 1 GiB squashfs out of an ISO made by xorriso: bootstation's ingest path against
// `xorriso -osirrox on -extract` and `bsdtar -x`. The ISO is in the page cache for all three (it was just written
// and read), and they write to tmpfs, so the figure is the readers' own speed, not the disk's.
import { link, mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alternate, figure, runChecked } from './lib.ts';
import type { Row } from './report.ts';
import { HTTP_FILE, randomFile, type Fixtures } from './servers.ts';

const FILES = ['live/vmlinuz', 'live/initrd.img', 'live/filesystem.squashfs'] as const;

/** Scenario 6 rows: extraction MB/s of the three files; bootstation's side runs the compiled build in `buildDir`. */
export async function ingestExtraction(fixtures: Fixtures, scratch: string, rounds: number, buildDir: string): Promise<Row[]> {
  const tree = join(fixtures.work, 'iso-tree');
  await mkdir(join(tree, 'live'), { recursive: true });
  await randomFile(join(tree, 'live/vmlinuz'), 8 << 20);
  await randomFile(join(tree, 'live/initrd.img'), 64 << 20);
  await link(join(fixtures.www, HTTP_FILE), join(tree, 'live/filesystem.squashfs'));
  const iso = join(fixtures.work, 'bench.iso');
  await runChecked(['xorriso', '-as', 'mkisofs', '-R', '-J', '-V', 'BENCH', '-o', iso, tree], { timeoutMs: 300_000 });
  const sizes = await Promise.all(FILES.map(async (path) => (await stat(join(tree, path))).size));
  const bytes = sizes.reduce((sum, size) => sum + size, 0);

  const commands = {
    bootstation: (out: string) => [process.execPath, resolve('bench/ingest-extract.ts'), buildDir, iso, out, ...FILES],
    xorriso: (out: string) => ['xorriso', '-osirrox', 'on', '-indev', iso, '-extract', '/live', join(out, 'live')],
    bsdtar: (out: string) => ['bsdtar', '-x', '-f', iso, '-C', out, ...FILES],
  };
  const samples = await alternate(rounds, ['bootstation', 'xorriso', 'bsdtar'] as const, async (contender) => {
    const out = join(scratch, 'ingest');
    await rm(out, { recursive: true, force: true });
    await mkdir(out);
    const result = await runChecked(commands[contender](out), { timeoutMs: 300_000 });
    const written = await Promise.all(FILES.map(async (path) => (await stat(join(out, path))).size));
    if (written.some((size, index) => size !== sizes[index])) throw new Error(`${contender} extracted ${written.join(', ')} bytes, expected ${sizes.join(', ')}`);
    await rm(out, { recursive: true, force: true });
    return bytes / 1e6 / (result.ms / 1000);
  });
  const bootstation = figure(samples.get('bootstation')!);
  const xorriso = figure(samples.get('xorriso')!);
  return [
    {
      scenario: '6 ingest',
      metric: `kernel + initrd + 1 GiB squashfs from an ISO (${(bytes / 2 ** 20).toFixed(0)} MiB)`,
      unit: 'MB/s',
      higherIsBetter: true,
      bootstation,
      peers: { xorriso, bsdtar: figure(samples.get('bsdtar')!) },
      target: { text: '≥ 0.8× xorriso', pass: bootstation.median >= 0.8 * xorriso.median },
    },
  ];
}
