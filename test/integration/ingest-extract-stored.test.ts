// ISO 9660 files are copied straight from the image's extents through a few reused buffers when the image is
// a local file (readInto): the files, sizes and SHA-256 must be those of the streamed path, and a failing or
// short read must end the ingest with a BadArchive error and no read or write left running.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openForReading, type OpenedFile } from '../../src/files/boot-files.ts';
import { openArchive } from '../../src/ingest/archives.ts';
import { extractArchive, type ExtractPlan } from '../../src/ingest/extract.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import type { RandomAccessSource } from '../../src/ingest/iso9660/iso-image.ts';
import { rejectionOf } from '../support/assert-rejects.ts';
import { buildRawIso, makeTempDir, parentRecord, removeTree, selfRecord } from '../support/iso-fixtures.ts';
import { seededRandom } from '../support/seeded-random.ts';

const MiB = 1024 * 1024;
const BLOCK = 2048;

function randomBytes(length: number, seed: number): Buffer {
  const next = seededRandom(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

// Larger than the copy buffers (1 MiB), and none a multiple of them: the last chunk of each is partial.
const big = randomBytes(5 * MiB + 17, 1);
// A multi-extent file (ECMA-119 §6.5.1): a first section of whole blocks over 1 MiB, then a second one
// stored *before* it in the image, so the copy must follow the records' order, not the image's.
const firstSection = randomBytes(768 * BLOCK, 2);
const secondSection = randomBytes(700_003, 3);
const small = Buffer.from('a kernel command line\n');
const CONTENTS: Record<string, Buffer> = { BIG: big, EMPTY: Buffer.alloc(0), MULTI: Buffer.concat([firstSection, secondSection]), SMALL: small };

const blocksOf = (bytes: number): number => Math.ceil(bytes / BLOCK);
const SECOND_AT = 20;
const FIRST_AT = SECOND_AT + blocksOf(secondSection.length);
const BIG_AT = FIRST_AT + blocksOf(firstSection.length);
const SMALL_AT = BIG_AT + blocksOf(big.length);

const image = buildRawIso({
  blocks: SMALL_AT + 1,
  root: { block: 18, size: BLOCK },
  directories: {
    18: [
      selfRecord(18),
      parentRecord(18),
      { name: 'BIG.;1', block: BIG_AT, size: big.length },
      { name: 'EMPTY.;1', block: 0, size: 0 },
      { name: 'MULTI.;1', block: FIRST_AT, size: firstSection.length, flags: 0x80 },
      { name: 'MULTI.;1', block: SECOND_AT, size: secondSection.length },
      { name: 'SMALL.;1', block: SMALL_AT, size: small.length },
    ],
  },
  bytes: { [SECOND_AT * BLOCK]: secondSection, [FIRST_AT * BLOCK]: firstSection, [BIG_AT * BLOCK]: big, [SMALL_AT * BLOCK]: small },
});

const PLAN: ExtractPlan = { archiveName: 'stored.iso', extract: ['*'], renames: {}, required: ['BIG'] };
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

let root: string;
let isoPath: string;
let counter = 0;
before(async () => {
  root = await makeTempDir('extract-stored');
  isoPath = join(root, 'stored.iso');
  await writeFile(isoPath, image);
});
after(() => removeTree(root));

/** Extracts the image through `wrap(file)` (the opened local file by default) into a fresh folder. */
async function extract(wrap: (file: OpenedFile) => RandomAccessSource = (file) => file): Promise<{ dir: string; files: Array<{ path: string; size: number; sha256: string }> }> {
  const file = await openForReading(isoPath);
  const dir = join(root, `out-${++counter}`);
  await mkdir(dir);
  try {
    const reader = await openArchive({ name: PLAN.archiveName, random: wrap(file) });
    const { files } = await extractArchive(reader, dir, PLAN, () => {});
    return { dir, files };
  } finally {
    await file.close();
  }
}

/** The local file with its readInto calls watched: the buffers it fills, and how many calls are unsettled. */
function watched(file: OpenedFile, fail?: (buffer: Uint8Array, position: number) => Promise<number> | undefined): { source: RandomAccessSource; buffers: Set<ArrayBufferLike>; pending: () => number } {
  const buffers = new Set<ArrayBufferLike>();
  let pending = 0;
  return {
    buffers,
    pending: () => pending,
    source: {
      size: file.size,
      read: (position, length) => file.read(position, length),
      readInto: async (buffer, position) => {
        buffers.add(buffer.buffer);
        pending++;
        try {
          return await (fail?.(buffer, position) ?? file.readInto(buffer, position));
        } finally {
          pending--;
        }
      },
    },
  };
}

describe('ISO files copied from the extents of a local image', () => {
  test('are byte for byte the files, with the sizes and SHA-256 of the streamed path, through a few reused buffers', async () => {
    let watch: ReturnType<typeof watched> | undefined;
    const copied = await extract((file) => (watch = watched(file)).source);
    assert.deepEqual(
      copied.files,
      Object.entries(CONTENTS).map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) })),
    );
    for (const [path, bytes] of Object.entries(CONTENTS)) assert.ok((await readFile(join(copied.dir, path))).equals(bytes), `${path} differs from the image's`);
    assert.ok(watch && watch.buffers.size > 0 && watch.buffers.size <= 4, `file data read into ${watch?.buffers.size} buffers, expected 1 to 4 reused ones`);

    // Without readInto (an HTTP Range source), the same image goes through IsoImage.readFile and streams.
    const streamed = await extract((file) => ({ size: file.size, read: (position, length) => file.read(position, length) }));
    assert.deepEqual(streamed.files, copied.files);
    assert.deepEqual((await readdir(streamed.dir)).sort(), Object.keys(CONTENTS));
  });

  test('a read error ends the ingest with BadArchive naming the image, after every read in flight has settled', async () => {
    const failAt = BIG_AT * BLOCK + 2 * MiB;
    let watch: ReturnType<typeof watched> | undefined;
    const error = await rejectionOf(
      extract(
        (file) =>
          (watch = watched(file, (buffer, position) => {
            if (position === failAt) return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
            // The read ahead of the failing one is still running when the failure is seen.
            if (position === failAt + MiB) return new Promise((resolve) => setTimeout(resolve, 100)).then(() => file.readInto(buffer, position));
            return undefined;
          })).source,
      ),
      IngestError,
    );
    assert.equal(error.code, IngestErrorCode.BadArchive);
    assert.equal(error.message, 'stored.iso cannot be read as ISO 9660 (EIO: i/o error, read); check that the source is the right, complete file');
    assert.equal(watch?.pending(), 0, 'no read still running into a buffer once extraction failed');
  });

  test('a short read (the image shrank after it was opened) ends the ingest the same way', async () => {
    const shortAt = BIG_AT * BLOCK + 3 * MiB;
    const error = await rejectionOf(
      extract((file) => watched(file, (buffer, position) => (position === shortAt ? file.readInto(buffer.subarray(0, 1000), position) : undefined)).source),
      IngestError,
    );
    assert.equal(error.code, IngestErrorCode.BadArchive);
    assert.equal(
      error.message,
      `stored.iso cannot be read as ISO 9660 (source ends early (short read) at byte ${shortAt + 1000}); check that the source is the right, complete file`,
    );
  });
});
