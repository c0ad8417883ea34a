// Ingest of real images nobody here wrote, from Debian packages: every installed file must be
// byte-identical to what xorriso extracts from the same ISO.
import assert from 'node:assert/strict';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import got from 'got';
import { parseConfigText } from '../../src/config/parse.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';
import { extractWithXorriso, fingerprintDirectory, xorrisoMissing } from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const MEMTEST = '/usr/lib/memtest86+/memtest86+x64.iso';
const GRUB = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const root = await mkdtemp(join(tmpdir(), 'bootstation-real-'));
after(() => rm(root, { recursive: true, force: true }));

async function skipReason(iso: string, pkg: string): Promise<string | undefined> {
  const missing = await xorrisoMissing();
  if (missing) return missing;
  return access(iso).then(() => undefined, () => `${iso} is absent (Debian package: ${pkg})`);
}

async function ingest(name: string, yaml: string): Promise<string> {
  const dataDir = join(root, `data-${name}`);
  const image = parseConfigText(`images:\n${yaml}`, 'images.yaml', { dataDir }).images[0]!;
  await ingestImage(image, { dataDir, http: got, info: () => {}, warn: () => {} });
  return join(dataDir, 'images', image.id);
}

async function reference(iso: string, name: string): Promise<Map<string, { kind: string }>> {
  const out = join(root, `xorriso-${name}`);
  await extractWithXorriso(iso, out);
  return fingerprintDirectory(out);
}

describe('real images from Debian packages', () => {
  test('memtest86+x64.iso with the memtest86plus recipe: the BIOS and UEFI binaries under their stable names', async (t) => {
    const skip = skipOrFail('ingest-real-images-memtest', await skipReason(MEMTEST, 'memtest86+'));
    if (skip) return t.skip(skip);
    const dir = await ingest('memtest', `  - id: memtest\n    recipe: memtest86plus\n    source: {path: ${MEMTEST}}\n`);
    const installed = await fingerprintDirectory(dir);
    const expected = await reference(MEMTEST, 'memtest');
    assert.deepEqual(installed.get('memtest64.bin'), expected.get('boot/floppy.img'));
    assert.deepEqual(installed.get('memtest64.efi'), expected.get('EFI/BOOT/bootx64.efi'));
    assert.deepEqual([...installed.keys()].sort(), ['.manifest.json', 'memtest64.bin', 'memtest64.efi']);
  });

  test('grub-rescue-cdrom.iso: a whole folder by its name, identical to xorriso', async (t) => {
    const skip = skipOrFail('ingest-real-images-grub', await skipReason(GRUB, 'grub-rescue-pc'));
    if (skip) return t.skip(skip);
    const dir = await ingest('grub', `  - id: grub\n    source: {path: ${GRUB}}\n    extract: [boot/grub]\n    boot: {kernel: boot/grub/i386-pc/eltorito.img}\n`);
    // Files only: folders are created for the files they hold (the ISO's empty ones are not installed).
    const files = (tree: Map<string, { kind: string }>): Map<string, unknown> => new Map([...tree].filter(([path, entry]) => entry.kind !== 'directory' && path !== '.manifest.json'));
    const installed = files(await fingerprintDirectory(dir));
    const expected = new Map([...files(await reference(GRUB, 'grub'))].filter(([path]) => path.startsWith('boot/grub/')));
    assert.ok(installed.size > 100, `the grub folder has hundreds of files, got ${installed.size}`);
    assert.deepEqual([...installed.keys()].sort(), [...expected.keys()].sort());
    for (const [path, entry] of expected) assert.deepEqual(installed.get(path), entry, path);
  });
});
