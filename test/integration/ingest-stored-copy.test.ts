// StoredCopier on its own: the main thread copies while the worker thread starts and hands a file over to
// it mid-way; the worker copies multi-extent files, partial last chunks and empty files; failed and short
// reads and a failing consumer end a copy with their error, in either thread, and leave the copier usable.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IsoExtent } from '../../src/ingest/iso9660/iso-image.ts';
import { StoredCopier } from '../../src/ingest/stored-copy.ts';
import { makeTempDir, removeTree } from '../support/iso-fixtures.ts';
import { seededRandom } from '../support/seeded-random.ts';

const MiB = 1024 * 1024;
const source = Buffer.alloc(12 * MiB);
{
  const next = seededRandom(7);
  for (let i = 0; i < source.length; i++) source[i] = Math.floor(next() * 256);
}
// Three sections, out of image order, none a multiple of the 1 MiB chunks: 6.5 MiB + 17 bytes in all.
const EXTENTS: IsoExtent[] = [
  { position: 5 * MiB, length: 3 * MiB + 17 },
  { position: 1000, length: 2 * MiB },
  { position: 9 * MiB, length: 1.5 * MiB },
];
const expected = Buffer.concat(EXTENTS.map((extent) => source.subarray(extent.position, extent.position + extent.length)));
const sizeOf = (extents: readonly IsoExtent[]): number => extents.reduce((total, extent) => total + extent.length, 0);

let root: string;
let sourcePath: string;
let counter = 0;
before(async () => {
  root = await makeTempDir('stored-copy');
  sourcePath = join(root, 'image.bin');
  await writeFile(sourcePath, source);
});
after(() => removeTree(root));

interface Copied {
  path: string;
  sha256: string;
  chunks: number[];
}

/** Copies `extents` of the image (or of the descriptor `fd`) with `copier`; `take` sees each chunk after it is hashed. */
async function copy(copier: StoredCopier, extents: readonly IsoExtent[], options: { fd?: number; take?: (index: number) => void } = {}): Promise<Copied> {
  const image = await open(sourcePath, 'r');
  const path = join(root, `copy-${++counter}`);
  const hash = createHash('sha256');
  const chunks: number[] = [];
  try {
    await copier.copy(options.fd ?? image.fd, extents, sizeOf(extents), path, (chunk) => {
      hash.update(chunk);
      chunks.push(chunk.length);
      options.take?.(chunks.length - 1);
    });
  } finally {
    await image.close();
  }
  return { path, sha256: hash.digest('hex'), chunks };
}

async function assertCopied(copied: Copied, bytes: Buffer): Promise<void> {
  assert.ok((await readFile(copied.path)).equals(bytes), 'the copy differs from the extents');
  assert.equal(copied.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(
    copied.chunks.reduce((total, length) => total + length, 0),
    bytes.length,
  );
}

/** Blocks this thread, as a long hash would. */
const stall = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const modes: Array<[string, (copier: StoredCopier) => Promise<void>]> = [
  ['starting on the main thread', async () => {}],
  ['in the worker thread', (copier) => copier.started],
];

describe('StoredCopier', () => {
  test('copies on the main thread while the worker starts, then hands the rest of the file to it', async () => {
    const copier = new StoredCopier();
    try {
      // A small file goes whole before the worker can have started.
      await assertCopied(await copy(copier, [{ position: 3, length: 1000 }]), source.subarray(3, 1003));
      let started = false;
      void copier.started.then(() => (started = true));
      const startedAt: boolean[] = [];
      // The second chunk takes long enough for the worker to start: the rest goes to it.
      const copied = await copy(copier, EXTENTS, {
        take: (index) => {
          startedAt.push(started);
          if (index === 1) stall(300);
        },
      });
      await assertCopied(copied, expected);
      assert.deepEqual(copied.chunks, [MiB, MiB, MiB, 17, MiB, MiB, MiB, MiB / 2]);
      assert.deepEqual(startedAt, [false, false, true, true, true, true, true, true], 'two chunks before the worker started, the rest after');
    } finally {
      await copier.close();
    }
  });

  test('a worker that dies mid-copy ends the copy with an error instead of a hang, and the copies after it', async () => {
    const copier = new StoredCopier();
    await copier.started;
    const stopping = { closed: undefined as Promise<void> | undefined };
    await assert.rejects(
      copy(copier, EXTENTS, {
        take: (index) => {
          if (index === 1) stopping.closed = copier.close();
        },
      }),
      { message: /^the copy worker thread exited/ },
    );
    await stopping.closed;
    await assert.rejects(copy(copier, [{ position: 0, length: 10 }]), { message: /^the copy worker thread exited/ });
  });

  for (const [mode, ready] of modes) {
    test(`copies ${mode}: multi-extent, a partial last chunk, an empty file`, async () => {
      const copier = new StoredCopier();
      try {
        await ready(copier);
        await assertCopied(await copy(copier, EXTENTS), expected);
        await assertCopied(await copy(copier, []), Buffer.alloc(0));
      } finally {
        await copier.close();
      }
    });

    test(`a read error, a short read or a failing consumer ${mode} ends the copy with its error; the copier stays usable`, async () => {
      const copier = new StoredCopier();
      const folder = await open(root, 'r');
      try {
        await ready(copier);
        await assert.rejects(copy(copier, EXTENTS, { fd: folder.fd }), { code: 'EISDIR' });
        // The image ends 1 MiB into the last extent.
        await assert.rejects(copy(copier, [...EXTENTS.slice(0, 2), { position: 11 * MiB, length: 2 * MiB }]), {
          message: `source ends early (short read) at byte ${12 * MiB}`,
        });
        const refused = new Error('refused');
        await assert.rejects(
          copy(copier, EXTENTS, {
            take: (index) => {
              if (index === 2) throw refused;
            },
          }),
          (error) => error === refused,
        );
        await assertCopied(await copy(copier, EXTENTS), expected);
      } finally {
        await folder.close();
        await copier.close();
      }
    });
  }
});
