// The ISO 9660 reader against images mastered by xorriso at test time: every tree the reader walks and
// every byte it streams must equal what `xorriso -osirrox on -extract` writes.
import assert from 'node:assert/strict';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { OpenedFile } from '../../src/files/boot-files.ts';
import { IsoError, IsoErrorCode } from '../../src/ingest/iso9660/iso-error.ts';
import { openIsoImage, type IsoEntry, type IsoImage, type IsoSkip } from '../../src/ingest/iso9660/iso-image.ts';
import {
  extractWithXorriso,
  fingerprintDirectory,
  fingerprintImage,
  freeTempBytes,
  makeTempDir,
  masterIso,
  memorySource,
  openImageFile,
  removeTree,
  sha256Of,
  writeTree,
  xorrisoMissing,
  type TreeItem,
} from '../support/iso-fixtures.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const missing = await xorrisoMissing();

const deepPath = Array.from({ length: 14 }, (_, level) => `level-${level}`).join('/');
const longName = `${'a-long-rock-ridge-name-'.repeat(10)}end.txt`; // 237 bytes: NM spills into a CE area
const bigText = Buffer.alloc(3 * 1024 * 1024 + 17, 'bootstation ');

/** A tree with what Rock Ridge must carry: long and non-ASCII names, deep paths, symlinks, empty files. */
const rockRidgeTree: Record<string, TreeItem> = {
  'boot/grub/grub.cfg': 'set timeout=5\nmenuentry "x" { linux /vmlinuz }\n',
  'boot/vmlinuz': bigText,
  'boot/empty.img': '',
  [`names/${longName}`]: 'long\n',
  'names/café ünïcödé 名前.txt': 'utf-8\n',
  'names/with space and trailing dot.': 'dot\n',
  'names/UPPER.TXT': 'upper\n',
  [`${deepPath}/deep.txt`]: 'deep\n',
  [`${deepPath}/sibling/file`]: 'sibling\n',
  'links/relative': { symlink: '../boot/grub/grub.cfg' },
  'links/absolute': { symlink: '/etc/hostname' },
  'links/dangling': { symlink: 'nowhere/at/all' },
  'links/to-dir': { symlink: '../boot' },
  'links/long-target': { symlink: `${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(120)}` },
  'empty-dir': { directory: true },
  ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`many/file-with-a-rather-long-name-number-${i}.txt`, `${i}\n`])),
};

describe('ISO 9660 reader on xorriso images', { skip: skipOrFail('iso9660-xorriso', missing) }, () => {
  let work = '';
  let source = '';
  const opened: OpenedFile[] = [];
  const open = async (path: string): Promise<OpenedFile> => {
    const file = await openImageFile(path);
    opened.push(file);
    return file;
  };

  before(async () => {
    work = await makeTempDir('iso9660');
    source = join(work, 'tree');
    await writeTree(source, rockRidgeTree);
  });
  after(async () => {
    await Promise.all(opened.map((file) => file.close()));
    if (work) await removeTree(work);
  });

  /** Masters the tree, extracts it with xorriso, and checks the reader sees the same tree. */
  async function compareWithXorriso(name: string, settings: string[]): Promise<{ image: IsoImage; iso: string; skips: IsoSkip[] }> {
    const iso = join(work, `${name}.iso`);
    const extracted = join(work, `${name}.xorriso`);
    await masterIso(source, iso, settings);
    await extractWithXorriso(iso, extracted);
    const skips: IsoSkip[] = [];
    const image = await openIsoImage(await open(iso), { onSkip: (skip) => skips.push(skip) });
    assert.deepEqual(await fingerprintImage(image), await fingerprintDirectory(extracted), `${name}: reader and xorriso extraction differ`);
    return { image, iso, skips };
  }

  it('reads a Rock Ridge image with relocated deep directories exactly as the source tree', async () => {
    const { image, iso, skips } = await compareWithXorriso('rock-ridge', [
      '-joliet', 'on',
      '-compliance', 'deep_paths_off:long_paths_off',
      '-rr_reloc_dir', 'rr_moved',
    ]);
    assert.equal(image.naming, 'rockridge');
    assert.deepEqual(skips, []);
    // Rock Ridge keeps everything, so the reader's tree is also the source tree.
    assert.deepEqual(await fingerprintImage(image), await fingerprintDirectory(source));
    // The relocation really happened: the plain ECMA-119 tree holds the moved directories.
    const plain = await openIsoImage(await open(iso), { naming: 'iso9660' });
    const moved = await plain.lookup('RR_MOVED');
    assert.equal(moved?.kind, 'directory', 'xorriso did not relocate the deep directories');
    assert.ok((await plain.list(moved)).length > 0);
    // Its Joliet tree (names cut to 64 characters, no symlinks) is what xorriso loads without Rock Ridge.
    const joliet = await openIsoImage(await open(iso), { naming: 'joliet' });
    const jolietExtracted = join(work, 'rock-ridge.joliet.xorriso');
    await extractWithXorriso(iso, jolietExtracted, ['-read_fs', 'norock']);
    assert.deepEqual(await fingerprintImage(joliet), await fingerprintDirectory(jolietExtracted));
  });

  it('reads a Rock Ridge image whose deep directories were relocated into the root', async () => {
    const { image } = await compareWithXorriso('rock-ridge-root-reloc', ['-compliance', 'deep_paths_off:long_paths_off']);
    assert.equal(image.naming, 'rockridge');
    const deep = await image.lookup(`${deepPath}/deep.txt`);
    assert.equal(deep?.kind, 'file');
  });

  it('reports Rock Ridge symlinks, modes and modification times', async () => {
    const { image } = await compareWithXorriso('rock-ridge-attributes', []);
    const link = await image.lookup('links/relative');
    assert.equal(link?.kind, 'symlink');
    assert.equal(link?.target, '../boot/grub/grub.cfg');
    const config = await image.lookup('boot/grub/grub.cfg');
    const stats = await lstat(join(source, 'boot/grub/grub.cfg'));
    assert.equal(config?.mtime?.getTime(), Math.floor(stats.mtimeMs / 1000) * 1000, 'TF modification time');
    assert.equal(config?.mode, stats.mode, 'PX mode');
  });

  it('falls back to Joliet names when there is no Rock Ridge', async () => {
    const { image } = await compareWithXorriso('joliet', ['-rockridge', 'off', '-joliet', 'on']);
    assert.equal(image.naming, 'joliet');
    assert.equal((await image.lookup('names/café ünïcödé 名前.txt'))?.size, 'utf-8\n'.length);
    assert.equal(await image.lookup('links/relative'), undefined, 'Joliet has no symlinks');
  });

  for (const level of [1, 2]) {
    it(`reads plain ISO level ${level} names without version or trailing dot`, async () => {
      const { image } = await compareWithXorriso(`plain-level-${level}`, ['-rockridge', 'off', '-joliet', 'off', '-compliance', `iso_9660_level=${level}`]);
      assert.equal(image.naming, 'iso9660');
      assert.equal((await image.lookup('BOOT/GRUB/GRUB.CFG'))?.kind, 'file');
      assert.equal((await image.lookup('boot/grub/grub.cfg', { caseInsensitive: true }))?.path, 'BOOT/GRUB/GRUB.CFG');
      assert.equal(await image.lookup('boot/grub/grub.cfg'), undefined, 'exact lookups keep case');
    });
  }

  it('streams byte ranges and chunks of a file', async () => {
    const iso = join(work, 'ranges.iso');
    await masterIso(source, iso, []);
    const image = await openIsoImage(await open(iso));
    const kernel = (await image.lookup('boot/vmlinuz')) as IsoEntry;
    const chunks: Uint8Array[] = [];
    for await (const chunk of image.readFile(kernel, { offset: 1_000_000, length: 2_000_000, chunkSize: 700_000 })) chunks.push(chunk);
    assert.deepEqual(chunks.map((chunk) => chunk.length), [700_000, 700_000, 600_000]);
    assert.deepEqual(Buffer.concat(chunks), bigText.subarray(1_000_000, 3_000_000));
    const tail: Uint8Array[] = [];
    for await (const chunk of image.readFile(kernel, { offset: bigText.length - 5, length: 100 })) tail.push(chunk);
    assert.deepEqual(Buffer.concat(tail), bigText.subarray(bigText.length - 5), 'a range past the end stops at the end');
    const empty = (await image.lookup('boot/empty.img')) as IsoEntry;
    assert.deepEqual(empty.extents, []);
    assert.equal(await sha256Of(image.readFile(empty)), await sha256Of((async function* () {})()));
  });

  it('streams a file over 4 GiB stored as a multi-extent file (ISO level 3)', async (t) => {
    const free = await freeTempBytes();
    if (free < 10 * 1024 ** 3) {
      t.skip(skipOrFail('iso9660-xorriso-4gib', `needs 10 GiB free in the temp directory for a 4.2 GiB image, has ${(free / 1024 ** 3).toFixed(1)} GiB`));
      return;
    }
    const size = 4200 * 1024 * 1024;
    const tree = join(work, 'big-tree');
    const marks: Array<[number, string]> = [
      [0, 'start'],
      [2 ** 32 - 3, 'across 4 GiB'],
      [size - 3, 'end'],
    ];
    await writeTree(tree, { 'big.img': { sparse: size, marks }, 'small.txt': 'small\n' });
    const iso = join(work, 'level3.iso');
    try {
      await masterIso(tree, iso, ['-compliance', 'iso_9660_level=3']);
      const image = await openIsoImage(await open(iso));
      const big = (await image.lookup('big.img')) as IsoEntry;
      assert.equal(big.size, size);
      assert.ok(big.extents.length >= 2, `expected several extents, got ${big.extents.length}`);
      const across: Uint8Array[] = [];
      for await (const chunk of image.readFile(big, { offset: 2 ** 32 - 3, length: 12 })) across.push(chunk);
      assert.equal(Buffer.concat(across).toString(), 'across 4 GiB');
      const expected = await sha256Of((async function* () {
        const handle = await openImageFile(join(tree, 'big.img'));
        try {
          for (let at = 0; at < size; at += 1024 * 1024) yield await handle.read(at, Math.min(1024 * 1024, size - at));
        } finally {
          await handle.close();
        }
      })());
      assert.equal(await sha256Of(image.readFile(big)), expected, 'the 4.2 GiB file differs from its source');
    } finally {
      await removeTree(tree);
      await removeTree(iso);
    }
  });

  describe('hand-corrupted images', () => {
    let pristine = Buffer.alloc(0);
    let image: IsoImage;

    before(async () => {
      const iso = join(work, 'to-corrupt.iso');
      await masterIso(source, iso, []);
      pristine = await readFile(iso);
      image = await openIsoImage(memorySource(pristine));
    });

    /** Opens a corrupted copy, walks and reads everything, and returns the IsoError it ends in. */
    async function failure(corrupt: (bytes: Buffer) => Buffer): Promise<IsoError> {
      const bytes = corrupt(Buffer.from(pristine));
      try {
        const damaged = await openIsoImage(memorySource(bytes));
        for await (const entry of damaged.walk()) if (entry.kind === 'file') for await (const _ of damaged.readFile(entry));
      } catch (error) {
        assert.ok(error instanceof IsoError, `expected an IsoError, got ${String(error)}`);
        return error;
      }
      assert.fail('the corrupted image was read without an error');
    }

    it('a PVD without its CD001 identifier is not ISO 9660', async () => {
      const error = await failure((bytes) => {
        bytes[16 * 2048 + 1] = 0x58;
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.NotIso9660);
      assert.equal(error.offset, 16 * 2048 + 1);
    });

    it('a PVD with logical block size 3000 is refused at that field', async () => {
      const error = await failure((bytes) => {
        bytes.writeUInt16LE(3000, 16 * 2048 + 128);
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.BadVolumeDescriptor);
      assert.equal(error.offset, 16 * 2048 + 128);
    });

    it('a directory record whose length byte is 3 is refused at that record', async () => {
      const config = (await image.lookup('boot/grub/grub.cfg')) as IsoEntry;
      const error = await failure((bytes) => {
        bytes[config.recordOffset] = 3;
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.BadDirectoryRecord);
      assert.equal(error.offset, config.recordOffset);
    });

    it('a directory record whose extent points past the image is out of range', async () => {
      const kernel = (await image.lookup('boot/vmlinuz')) as IsoEntry;
      const error = await failure((bytes) => {
        bytes.writeUInt32LE(0xfffffff0, kernel.recordOffset + 2);
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.ExtentOutOfRange);
      assert.equal(error.offset, kernel.recordOffset);
    });

    it('a subdirectory pointing back at the root is a directory loop', async () => {
      const boot = (await image.lookup('boot')) as IsoEntry;
      const error = await failure((bytes) => {
        bytes.writeUInt32LE(image.root.extents[0]!.position / 2048, boot.recordOffset + 2);
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.DirectoryLoop);
    });

    it('a CE pointer aimed at its own system use area is a continuation loop', async () => {
      const entry = (await image.lookup(`names/${longName}`)) as IsoEntry;
      const error = await failure((bytes) => {
        const recordLength = bytes[entry.recordOffset] as number;
        const record = bytes.subarray(entry.recordOffset, entry.recordOffset + recordLength);
        const ce = record.indexOf('CE\x1c\x01', 33, 'latin1');
        assert.ok(ce > 0, 'the long name record has no CE entry');
        const systemUse = 33 + record[32]! + (record[32]! % 2 === 0 ? 1 : 0);
        const areaStart = entry.recordOffset + systemUse;
        record.writeUInt32LE(Math.floor(areaStart / 2048), ce + 4);
        record.writeUInt32LE(areaStart % 2048, ce + 12);
        record.writeUInt32LE(recordLength - systemUse, ce + 20);
        return bytes;
      });
      assert.equal(error.code, IsoErrorCode.ContinuationLoop);
    });

    it('random byte mutations of its descriptors and directories end in an IsoError or a clean read', { timeout: 300_000 }, async () => {
      let metadataEnd = pristine.length;
      for await (const entry of image.walk()) for (const extent of entry.extents) if (entry.kind === 'file') metadataEnd = Math.min(metadataEnd, extent.position);
      const outcomes = new Set<string>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.integer({ min: 16 * 2048, max: metadataEnd - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 16 }),
          async (mutations) => {
            const bytes = Buffer.from(pristine);
            for (const { at, value } of mutations) bytes[at] = value;
            try {
              const damaged = await openIsoImage(memorySource(bytes), { onSkip: () => undefined });
              for await (const entry of damaged.walk()) if (entry.kind === 'file') for await (const _ of damaged.readFile(entry, { length: 4096 }));
              outcomes.add('read');
            } catch (error) {
              if (!(error instanceof IsoError)) throw error;
              outcomes.add(error.code);
            }
          },
        ),
        { numRuns: 300 },
      );
      assert.ok(outcomes.size >= 4, `only these outcomes: ${[...outcomes].join(', ')}`);
    });

    it('a truncated image says so', async () => {
      const kernel = (await image.lookup('boot/vmlinuz')) as IsoEntry;
      const error = await failure((bytes) => bytes.subarray(0, kernel.extents[0]!.position + 1000));
      assert.equal(error.code, IsoErrorCode.Truncated);
    });
  });
});
