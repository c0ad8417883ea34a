// The ISO 9660 reader on real images nobody here wrote, from Debian packages: every file it extracts
// must equal what `xorriso -osirrox on -extract` writes.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openIsoImage, type IsoSkip } from '../../src/ingest/iso9660/iso-image.ts';
import {
  extractWithXorriso,
  fingerprintDirectory,
  fingerprintImage,
  makeTempDir,
  openImageFile,
  removeTree,
  xorrisoMissing,
} from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const images = [
  { path: '/usr/lib/grub-rescue/grub-rescue-cdrom.iso', pkg: 'grub-rescue-pc', expect: 'boot/grub/i386-pc/normal.mod', naming: 'rockridge' },
  { path: '/usr/lib/memtest86+/memtest86+x64.iso', pkg: 'memtest86+', expect: 'EFI/BOOT/bootx64.efi', naming: 'rockridge' },
  { path: '/usr/lib/memtest86+/memtest86+ia32.iso', pkg: 'memtest86+', expect: 'EFI/BOOT/bootia32.efi', naming: 'rockridge' },
  // The same images without Rock Ridge: xorriso then loads Joliet (memtest86+) or plain names (GRUB).
  { path: '/usr/lib/memtest86+/memtest86+x64.iso', pkg: 'memtest86+', expect: 'EFI/BOOT/bootx64.efi', naming: 'joliet' },
  { path: '/usr/lib/grub-rescue/grub-rescue-cdrom.iso', pkg: 'grub-rescue-pc', expect: 'boot/grub/i386-pc/normal.mod', naming: 'iso9660' },
] as const;

/** xorriso's -read_fs value that makes it load the same tree as the reader. */
const readFs = { rockridge: 'any', joliet: 'norock', iso9660: 'ecma119' } as const;

const xorriso = await xorrisoMissing();
const present = await Promise.all(images.map(({ path }) => access(path).then(() => true, () => false)));

describe('ISO 9660 reader on images from Debian packages', () => {
  for (const [index, { path, pkg, expect, naming }] of images.entries()) {
    const skip = skipOrFail(`iso9660-debian-images-${pkg}`, xorriso ?? (present[index] ? undefined : `${path} is absent (Debian package: ${pkg})`));
    it(`extracts every file of ${path} (${naming} names) as xorriso does`, { skip }, async () => {
      const work = await makeTempDir('iso9660-debian');
      const file = await openImageFile(path);
      try {
        const skips: IsoSkip[] = [];
        const image = await openIsoImage(file, { naming, onSkip: (skipped) => skips.push(skipped) });
        const extracted = join(work, 'xorriso');
        await extractWithXorriso(path, extracted, ['-read_fs', readFs[naming]]);
        const expected = await fingerprintDirectory(extracted);
        assert.ok(expected.has(expect), `xorriso did not extract ${expect}; the fixture changed`);
        assert.deepEqual(await fingerprintImage(image), expected);
        assert.deepEqual(skips, []);
        assert.equal(image.naming, naming);
        assert.equal((await image.lookup(expect.toUpperCase(), { caseInsensitive: true }))?.path, expect);
      } finally {
        await file.close();
        await removeTree(work);
      }
    });
  }
});
