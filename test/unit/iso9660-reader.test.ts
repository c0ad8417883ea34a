// The ISO 9660 reader on hand-built images: every Rock Ridge structure it follows, and every hostile
// structure it must refuse with a typed IsoError (or skip with a reason) instead of hanging or crashing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IsoError, IsoErrorCode } from '../../src/ingest/iso9660/iso-error.ts';
import { openIsoImage, type IsoEntry, type IsoImage, type IsoSkip, type OpenIsoOptions } from '../../src/ingest/iso9660/iso-image.ts';
import { buildRawIso, handmadeModes, handmadeModified as modified, handmadeRockRidgeLayout as validLayout, memorySource, selfRecord as self, rr, sha256Of, type RawImage, type RawRecord } from '../support/iso-fixtures.ts';

const { DIR, FILE, LINK } = handmadeModes;

async function open(layout: RawImage, options: OpenIsoOptions = {}): Promise<IsoImage> {
  return openIsoImage(memorySource(buildRawIso(layout)), options);
}

async function walkAll(image: IsoImage): Promise<IsoEntry[]> {
  const entries: IsoEntry[] = [];
  for await (const entry of image.walk()) entries.push(entry);
  return entries;
}

async function text(image: IsoImage, entry: IsoEntry): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of image.readFile(entry)) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

/** Walks and reads a whole image and returns the IsoError that stops it. */
async function failure(layout: RawImage, options: OpenIsoOptions = {}): Promise<IsoError> {
  try {
    const image = await open(layout, options);
    for (const entry of await walkAll(image)) if (entry.kind === 'file') await text(image, entry);
  } catch (error) {
    assert.ok(error instanceof IsoError, `expected an IsoError, got ${String(error)}`);
    return error;
  }
  assert.fail('the image was read without an error');
}

/** The skips reported while walking an image that otherwise reads fine. */
async function skipsOf(layout: RawImage): Promise<{ skips: IsoSkip[]; paths: string[] }> {
  const skips: IsoSkip[] = [];
  const image = await open(layout, { onSkip: (skip) => skips.push(skip) });
  const paths = (await walkAll(image)).map((entry) => entry.path);
  return { skips, paths };
}

describe('ISO 9660 reader on hand-built Rock Ridge images', () => {
  it('follows NM across a CE area, SL over two entries, CL/RE relocation and multi-extent files', async () => {
    const image = await open(validLayout());
    assert.equal(image.naming, 'rockridge');
    assert.equal(image.volumeId, 'HANDMADE');
    const entries = await walkAll(image);
    assert.deepEqual(
      entries.map((entry) => `${entry.kind} ${entry.path}${entry.target ? ` -> ${entry.target}` : ''}`),
      [
        'directory boot',
        'directory deep',
        'file empty',
        'symlink LINK -> /usr/long/..', // no NM: the plain name, stripped
        'file a-name-that-continues-in-a-ce.txt',
        'file multi',
        'directory rr_moved',
        'file boot/vmlinuz',
        'file deep/inner.txt',
      ],
    );
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    assert.equal(await text(image, byPath.get('multi') as IsoEntry), 'A'.repeat(2048) + 'B'.repeat(100));
    assert.deepEqual(byPath.get('multi')?.extents, [
      { position: 41 * 2048, length: 2048 },
      { position: 43 * 2048, length: 100 },
    ]);
    assert.equal(await text(image, byPath.get('deep/inner.txt') as IsoEntry), 'inner\n');
    assert.deepEqual(byPath.get('empty')?.extents, [], 'an empty file may point anywhere');
    assert.equal(await text(image, byPath.get('empty') as IsoEntry), '');
    assert.equal(byPath.get('a-name-that-continues-in-a-ce.txt')?.mtime?.getTime(), modified.getTime());
    assert.equal(byPath.get('boot/vmlinuz')?.mode, FILE);
    assert.equal(byPath.get('boot/vmlinuz')?.mtime?.toISOString(), '2026-05-04T03:02:01.000Z', 'recording date without TF');
  });

  it('reads the same image by its plain ECMA-119 names when asked', async () => {
    const image = await open(validLayout(), { naming: 'iso9660' });
    assert.deepEqual(
      (await walkAll(image)).map((entry) => entry.path),
      ['BOOT', 'DEEP', 'EMPTY', 'LINK', 'LONG.TXT', 'MULTI', 'RR_MOVED', 'BOOT/VMLINUZ', 'RR_MOVED/DEEP', 'RR_MOVED/DEEP/INNER.TXT'],
    );
  });

  it('honours SP skip bytes before the entries of every other record (SUSP 1.12 §5.3)', async () => {
    const layout = validLayout();
    const junk = Uint8Array.from([0xde, 0xad, 0x42]);
    (layout.directories[18] as RawRecord[])[0] = self(18, [rr.sp(3), rr.ce(30, 0, 18)]);
    (layout.directories[19] as RawRecord[])[2] = { name: 'VMLINUZ.;1', block: 42, size: 6, systemUse: [junk, rr.px(FILE), rr.nm('vmlinuz')] };
    for (const record of layout.directories[18] as RawRecord[]) if (record.name !== '\0') record.systemUse = [junk, ...(record.systemUse ?? [])];
    const image = await open(layout);
    assert.equal((await image.lookup('boot/vmlinuz'))?.size, 6);
  });

  it('uses Rock Ridge without ER when the root carries RRIP 1.09 entries, and plain names without SP', async () => {
    const layout = validLayout();
    (layout.directories[18] as RawRecord[])[0] = self(18, [rr.sp(), rr.px(DIR)]);
    assert.equal((await open(layout)).naming, 'rockridge');
    (layout.directories[18] as RawRecord[])[0] = self(18, [rr.px(DIR)]);
    assert.equal((await open(layout)).naming, 'iso9660');
    await assert.rejects(open(layout, { naming: 'rockridge' }), { code: IsoErrorCode.BadSystemUse });
    await assert.rejects(open(layout, { naming: 'joliet' }), { code: IsoErrorCode.BadVolumeDescriptor });
  });

  it('looks paths up exactly or ignoring case, never through "." or ".."', async () => {
    const image = await open(validLayout());
    assert.equal((await image.lookup('/boot//vmlinuz'))?.path, 'boot/vmlinuz');
    assert.equal(await image.lookup('BOOT/vmlinuz'), undefined);
    assert.equal((await image.lookup('BOOT/VMLinuz', { caseInsensitive: true }))?.path, 'boot/vmlinuz');
    assert.equal(await image.lookup('boot/../boot/vmlinuz'), undefined);
    assert.equal(await image.lookup('boot/vmlinuz/more'), undefined);
    assert.equal((await image.lookup(''))?.kind, 'directory');
  });

  it('refuses a case-insensitive lookup that two names match, and prefers an exact match', async () => {
    const layout = validLayout();
    (layout.directories[19] as RawRecord[]).push({ name: 'VMLINUZ2.;1', block: 42, size: 6, systemUse: [rr.px(FILE), rr.nm('VMLINUZ')] });
    const image = await open(layout);
    assert.equal((await image.lookup('boot/VMLINUZ', { caseInsensitive: true }))?.name, 'VMLINUZ');
    await assert.rejects(image.lookup('boot/Vmlinuz', { caseInsensitive: true }), { code: IsoErrorCode.AmbiguousName });
  });

  it('streams ranges across the sections of a multi-extent file', async () => {
    const image = await open(validLayout());
    const multi = (await image.lookup('multi')) as IsoEntry;
    const chunks: Uint8Array[] = [];
    for await (const chunk of image.readFile(multi, { offset: 2040, length: 20, chunkSize: 4 })) chunks.push(chunk);
    assert.deepEqual(chunks.map((chunk) => Buffer.from(chunk).toString()), ['AAAA', 'AAAA', 'BBBB', 'BBBB', 'BBBB']);
    assert.notEqual(await sha256Of(image.readFile(multi)), await sha256Of(image.readFile(multi, { length: 2147 })));
  });

  it('passes source failures through unchanged, and a stopped stream leaves no unhandled read-ahead', async () => {
    const bytes = buildRawIso(validLayout());
    const failing = new Error('connection reset');
    const source = {
      size: bytes.length,
      read: async (position: number, length: number) => {
        if (position >= 41 * 2048 + 4) throw failing;
        return bytes.subarray(position, position + length);
      },
    };
    const image = await openIsoImage(source);
    const multi = (await image.lookup('multi')) as IsoEntry;
    for await (const chunk of image.readFile(multi, { chunkSize: 4 })) {
      assert.equal(Buffer.from(chunk).toString(), 'AAAA');
      break; // the read-ahead of the next chunk fails after this
    }
    await assert.rejects(sha256Of(image.readFile(multi, { chunkSize: 4 })), failing);
    // An unhandled rejection would end this test process before the next tick's assertion.
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe('ISO 9660 reader on hostile images', () => {
  const replace = (layout: RawImage, block: number, index: number, record: RawRecord): RawImage => {
    (layout.directories[block] as RawRecord[])[index] = record;
    return layout;
  };

  it('refuses a volume descriptor set without a terminator', async () => {
    const layout = validLayout();
    const image = buildRawIso(layout);
    for (let sector = 17; sector < 18; sector++) image[sector * 2048] = 2;
    // Sector 18 is the root directory, not a descriptor: the set never ends properly.
    await assert.rejects(openIsoImage(memorySource(image)), { code: IsoErrorCode.BadVolumeDescriptor, offset: 18 * 2048 + 1 });
  });

  it('refuses an image shorter than its descriptors, and short reads', async () => {
    const image = buildRawIso(validLayout());
    await assert.rejects(openIsoImage(memorySource(image.subarray(0, 16 * 2048 + 100))), { code: IsoErrorCode.Truncated });
    const shortReads = { size: image.length, read: async (position: number, length: number) => image.subarray(position, position + Math.min(length, 512)) };
    await assert.rejects(openIsoImage(shortReads), { code: IsoErrorCode.Truncated, offset: 512 });
  });

  it('refuses a CE chain that loops', async () => {
    const layout = validLayout();
    layout.bytes = { ...layout.bytes, [30 * 2048 + 100]: rr.ce(30, 200, 28), [30 * 2048 + 200]: rr.ce(30, 100, 28) };
    const error = await failure(layout);
    assert.equal(error.code, IsoErrorCode.ContinuationLoop);
    assert.equal(error.offset, 30 * 2048 + 200);
  });

  it('stops a CE chain longer than the limit', async () => {
    const layout = validLayout();
    const areas: Record<number, Uint8Array> = {};
    for (let i = 0; i < 40; i++) areas[31 * 2048 + i * 40] = rr.ce(31, (i + 1) * 40, 28);
    layout.bytes = { ...layout.bytes, ...areas, [30 * 2048 + 100]: rr.ce(31, 0, 28) };
    assert.equal((await failure(layout)).code, IsoErrorCode.LimitExceeded);
  });

  it('refuses a CE area that leaves its block or points past the image', async () => {
    const crossing = validLayout();
    crossing.bytes = { ...crossing.bytes, [30 * 2048 + 100]: rr.ce(30, 2040, 28) };
    assert.equal((await failure(crossing)).code, IsoErrorCode.BadSystemUse);
    const outside = validLayout();
    outside.bytes = { ...outside.bytes, [30 * 2048 + 100]: rr.ce(900, 0, 28) };
    assert.equal((await failure(outside)).code, IsoErrorCode.ExtentOutOfRange);
  });

  it('refuses SUSP entries whose length does not fit', async () => {
    const layout = replace(validLayout(), 19, 2, { name: 'VMLINUZ.;1', block: 42, size: 6, systemUse: [Uint8Array.from([0x4e, 0x4d, 200, 1, 0, 0x61])] });
    const error = await failure(layout);
    assert.equal(error.code, IsoErrorCode.BadSystemUse);
  });

  it('refuses a CL link back to the root (a directory loop)', async () => {
    const layout = replace(validLayout(), 18, 3, { name: 'DEEP', block: 0, size: 0, systemUse: [rr.px(DIR), rr.nm('deep'), rr.cl(18)] });
    assert.equal((await failure(layout)).code, IsoErrorCode.DirectoryLoop);
  });

  it('refuses two directories sharing one extent, before the tree doubles at every level', async () => {
    const layout = validLayout();
    (layout.directories[19] as RawRecord[]).push({ name: 'AGAIN', block: 21, size: 2048, directory: true, systemUse: [rr.px(DIR), rr.nm('again')] });
    const error = await failure(layout);
    assert.equal(error.code, IsoErrorCode.DirectoryLoop);
  });

  it('refuses directory extents that overlap another directory or the descriptors', async () => {
    // boot now spans blocks 19 and 20, where rr_moved starts.
    const overlapping = replace(validLayout(), 18, 2, { name: 'BOOT', block: 19, size: 4096, directory: true, systemUse: [rr.px(DIR), rr.nm('boot')] });
    const error = await failure(overlapping);
    assert.equal(error.code, IsoErrorCode.OverlappingExtent);
    assert.equal(error.offset, (await open(validLayout()).then((image) => image.lookup('rr_moved')))?.recordOffset);
    const descriptors = replace(validLayout(), 19, 2, { name: 'SUB', block: 17, size: 2048, directory: true });
    assert.equal((await failure(descriptors)).code, IsoErrorCode.OverlappingExtent);
  });

  it('refuses multi-extent sections that overlap, change name, or never end', async () => {
    const overlap = replace(validLayout(), 18, 8, { name: 'MULTI.;1', block: 41, size: 100, systemUse: [rr.px(FILE), rr.nm('multi')] });
    assert.equal((await failure(overlap)).code, IsoErrorCode.OverlappingExtent);
    const renamed = replace(validLayout(), 18, 8, { name: 'OTHER.;1', block: 43, size: 100 });
    assert.equal((await failure(renamed)).code, IsoErrorCode.BadDirectoryRecord);
    const unfinished = validLayout();
    (unfinished.directories[18] as RawRecord[]).splice(8, 2);
    assert.equal((await failure(unfinished)).code, IsoErrorCode.BadDirectoryRecord);
  });

  it('refuses extents past the image: truncated within the volume, out of range beyond it', async () => {
    const cut = buildRawIso(validLayout()).subarray(0, 44 * 2048);
    const image = await openIsoImage(memorySource(cut));
    await assert.rejects(walkAll(image), { code: IsoErrorCode.Truncated, offset: (await open(validLayout()).then((whole) => whole.lookup('deep/inner.txt')))?.recordOffset });
    const outside = replace(validLayout(), 19, 2, { name: 'VMLINUZ.;1', block: 0xfffffff, size: 10, systemUse: [rr.nm('vmlinuz')] });
    assert.equal((await failure(outside)).code, IsoErrorCode.ExtentOutOfRange);
  });

  it('refuses a directory record that crosses a sector', async () => {
    const layout = validLayout();
    // Twenty 94-byte records push the last one to byte 1948 of the sector, within reach of its end.
    const fillers = Array.from({ length: 20 }, (_, i): RawRecord => ({ name: `FILLER${String(i).padStart(2, '0')}`.padEnd(60, 'X'), block: 0, size: 0 }));
    (layout.directories[21] as RawRecord[]).splice(2, 0, ...fillers);
    const image = buildRawIso(layout);
    const inner = (await (await openIsoImage(memorySource(image))).lookup('deep/inner.txt')) as IsoEntry;
    // The last record of its directory, made to reach 10 bytes into the next sector.
    const crossing = 2048 - (inner.recordOffset % 2048) + 10;
    assert.ok(crossing <= 255, 'the fillers no longer bring the record near the sector end');
    image[inner.recordOffset] = crossing;
    await assert.rejects(walkAll(await openIsoImage(memorySource(image))), { code: IsoErrorCode.BadDirectoryRecord, offset: inner.recordOffset });
  });

  it('enforces the depth, entry and directory size limits', async () => {
    assert.equal((await failure(validLayout(), { limits: { maxDepth: 0 } })).code, IsoErrorCode.LimitExceeded);
    assert.equal((await failure(validLayout(), { limits: { maxEntries: 5 } })).code, IsoErrorCode.LimitExceeded);
    assert.equal((await failure(validLayout(), { limits: { maxDirectoryBytes: 1024 } })).code, IsoErrorCode.LimitExceeded);
  });

  it('skips names that would be unsafe on disk, with a reason', async () => {
    const layout = validLayout();
    const records = layout.directories[19] as RawRecord[];
    records.push(
      { name: 'A.;1', block: 42, size: 6, systemUse: [rr.nm('../../etc/passwd')] },
      { name: 'B.;1', block: 42, size: 6, systemUse: [rr.nm(Uint8Array.from([0x61, 0, 0x62]))] },
      { name: 'C.;1', block: 42, size: 6, systemUse: [rr.nm('', 0x04)] },
      { name: 'D.;1', block: 42, size: 6, systemUse: [rr.nm('..')] },
      { name: 'E.;1', block: 42, size: 6, systemUse: [rr.nm(Uint8Array.from([0xff, 0xfe]))] },
      { name: 'F.;1', block: 42, size: 6, systemUse: [rr.nm('x'.repeat(150), 0x01), rr.ce(32, 0, 155)] },
      { name: 'G.;1', block: 42, size: 6, systemUse: [rr.nm('vmlinuz')] },
      { name: 'H.;1', block: 0, size: 0, systemUse: [rr.px(LINK), rr.sl([[0, 'a/b']])] },
      { name: 'I.;1', block: 0, size: 0, systemUse: [rr.px(0o020644), rr.pn()] },
      { name: 'J.;1', block: 42, size: 6, systemUse: [rr.px(FILE), rr.zf()] },
      { name: 'K.;1', block: 42, size: 6, flags: 0x04 },
      { name: 'L.;1', block: 0, size: 0, systemUse: [rr.px(LINK), rr.sl([[0x20, '']])] },
    );
    const { skips, paths } = await skipsOf(layout);
    assert.deepEqual(
      skips.map((skip) => [skip.name, skip.reason]),
      [
        ['../../etc/passwd', 'unsafe-name'],
        ['a\\x00b', 'unsafe-name'],
        ['C.;1', 'unsafe-name'],
        ['..', 'unsafe-name'],
        ['E.;1', 'undecodable-name'],
        ['x'.repeat(64), 'name-too-long'],
        ['vmlinuz', 'duplicate-name'],
        ['H', 'unusable-symlink'],
        ['I', 'special-file'],
        ['J', 'compressed'],
        ['K.;1', 'associated-file'],
        ['L', 'unusable-symlink'],
      ],
    );
    assert.ok(skips.every((skip) => skip.directory === 'boot' && skip.recordOffset > 19 * 2048));
    assert.ok(paths.includes('boot/vmlinuz'), 'the first vmlinuz stays');
  });
});
