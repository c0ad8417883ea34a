// ISO 9660 files are copied straight from the image's extents by a worker thread when the image is a local
// file (the source has a descriptor): the files, sizes, SHA-256 and progress must be those of the streamed
// path, and a failing or short read must end the ingest with a BadArchive error. (A worker left running
// would keep this test file's process from ending.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openForReading, type OpenedFile } from '../../src/files/boot-files.ts';
import { openArchive, type ArchiveReader } from '../../src/ingest/archives.ts';
import type { ProgressSink } from '../../src/ingest/download.ts';
import { extractArchive, type ExtractPlan, type ExtractResult } from '../../src/ingest/extract.ts';
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

interface Extraction {
  /** The source as extractArchive sees it; the opened local file by default. */
  wrap?: (file: OpenedFile) => RandomAccessSource;
  /** Runs after the image was opened and walked for its type, before extraction. */
  meanwhile?: (reader: ArchiveReader) => Promise<void>;
  progress?: ProgressSink;
  path?: string;
}

/** Extracts the image into a fresh folder. */
async function extract(options: Extraction = {}): Promise<ExtractResult & { dir: string }> {
  const file = await openForReading(options.path ?? isoPath);
  const dir = join(root, `out-${++counter}`);
  await mkdir(dir);
  try {
    const reader = await openArchive({ name: PLAN.archiveName, random: options.wrap?.(file) ?? file });
    await options.meanwhile?.(reader);
    return { dir, ...(await extractArchive(reader, dir, PLAN, () => {}, options.progress)) };
  } finally {
    await file.close();
  }
}

/** The local file with the bytes asked of `read` counted (directories and descriptors come that way, file data not). */
function counted(file: OpenedFile, fd: number = file.fd): { source: RandomAccessSource; bytesRead: () => number } {
  let bytes = 0;
  return {
    bytesRead: () => bytes,
    source: {
      size: file.size,
      fd,
      read: async (position, length) => {
        bytes += length;
        return file.read(position, length);
      },
    },
  };
}

const failure = (promise: Promise<unknown>): Promise<IngestError> => rejectionOf(promise, IngestError);

describe('ISO files copied from the extents of a local image', () => {
  test('are byte for byte the files, with the sizes, SHA-256 and progress of the streamed path', async () => {
    let watch: ReturnType<typeof counted> | undefined;
    const updates: Array<{ received: number; total: number | undefined }> = [];
    let done = 0;
    const copied = await extract({
      wrap: (file) => (watch = counted(file)).source,
      progress: { update: (s) => void updates.push({ received: s.received, total: s.total }), done: () => void done++ },
    });
    assert.deepEqual(
      copied.files,
      Object.entries(CONTENTS).map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) })),
    );
    for (const [path, bytes] of Object.entries(CONTENTS)) assert.ok((await readFile(join(copied.dir, path))).equals(bytes), `${path} differs from the image's`);
    assert.ok(watch && watch.bytesRead() < MiB, `file data came through read (${watch?.bytesRead()} bytes), not from the descriptor`);
    assert.deepEqual(
      updates.filter((update) => update.total === big.length).map((update) => update.received),
      [MiB, 2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB, big.length],
      'BIG reports each chunk',
    );
    assert.equal(done, Object.keys(CONTENTS).length, 'done once per file');

    // Without a descriptor (an HTTP Range source), the same image goes through IsoImage.readFile and streams.
    const streamed = await extract({ wrap: (file) => ({ size: file.size, read: (position, length) => file.read(position, length) }) });
    assert.deepEqual(streamed.files, copied.files);
    assert.deepEqual((await readdir(streamed.dir)).sort(), Object.keys(CONTENTS));
  });

  test('a read error ends the ingest with BadArchive naming the image', async () => {
    // A directory's descriptor: every read of file data fails with EISDIR.
    const folder = await open(root, 'r');
    try {
      const error = await failure(extract({ wrap: (file) => counted(file, folder.fd).source }));
      assert.equal(error.code, IngestErrorCode.BadArchive);
      assert.equal(error.message, 'stored.iso cannot be read as ISO 9660 (EISDIR: illegal operation on a directory, read); check that the source is the right, complete file');
    } finally {
      await folder.close();
    }
  });

  test('a short read (the image shrank after it was opened) ends the ingest the same way', async () => {
    const path = join(root, `shrinking-${++counter}.iso`);
    await copyFile(isoPath, path);
    const cut = BIG_AT * BLOCK + 3 * MiB + 1000;
    const error = await failure(extract({ path, meanwhile: () => truncate(path, cut) }));
    assert.equal(error.code, IngestErrorCode.BadArchive);
    assert.equal(error.message, `stored.iso cannot be read as ISO 9660 (source ends early (short read) at byte ${cut}); check that the source is the right, complete file`);
  });

  test('a failure on the main thread while a file is copied stops the copy and is the error', async () => {
    const refused = new Error('progress sink refused');
    const update = (s: { received: number; total?: number }): void => {
      if (s.total === big.length && s.received === 2 * MiB) throw refused;
    };
    const dir = join(root, `out-${counter + 1}`);
    await assert.rejects(extract({ progress: { update, done: () => {} } }), (error) => error === refused || (error as Error).cause === refused);
    // The worker reads at most a few chunks ahead of the hashing, and was stopped.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok((await readFile(join(dir, 'BIG'))).length < big.length, 'BIG was not copied to the end');
  });
});
