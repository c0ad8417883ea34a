// Property tests: whatever bytes an image holds, the ISO 9660 reader either reads it or throws an
// IsoError, and it always finishes (the node:test timeout catches a hang; no speed is asserted).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeDirectoryRecords, decodeVolumeDescriptor } from '../../src/ingest/iso9660/ecma119.ts';
import { IsoError } from '../../src/ingest/iso9660/iso-error.ts';
import { openIsoImage } from '../../src/ingest/iso9660/iso-image.ts';
import { decodeSystemUseArea, emptySystemUseInfo, symlinkTarget } from '../../src/ingest/iso9660/rock-ridge.ts';
import { buildRawIso, handmadeRockRidgeLayout, memorySource } from '../support/iso-fixtures.ts';

const pristine = buildRawIso(handmadeRockRidgeLayout());
// Sectors 16 to 32 hold the descriptors, every directory and every continuation area of the image.
const metadataStart = 16 * 2048;
const metadataEnd = 33 * 2048;

/** Opens, walks, looks up and reads everything; any error must be an IsoError. Returns what ended it. */
async function readEverything(bytes: Uint8Array): Promise<string> {
  try {
    const image = await openIsoImage(memorySource(bytes), { onSkip: () => undefined });
    for await (const entry of image.walk()) {
      if (entry.kind === 'file') for await (const _ of image.readFile(entry, { chunkSize: 1000 }));
      await image.lookup(entry.path, { caseInsensitive: true });
    }
    return 'read';
  } catch (error) {
    if (error instanceof IsoError) return error.code;
    throw error;
  }
}

const mutation = fc.record({
  at: fc.oneof(fc.integer({ min: metadataStart, max: metadataEnd - 1 }), fc.integer({ min: 0, max: pristine.length - 1 })),
  value: fc.integer({ min: 0, max: 255 }),
});

describe('ISO 9660 reader under random damage', () => {
  it('reads the undamaged image', async () => {
    assert.equal(await readEverything(pristine), 'read');
  });

  it('throws only IsoError for random byte mutations of a valid Rock Ridge image', { timeout: 120_000 }, async () => {
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 24 }), async (mutations) => {
        const bytes = Uint8Array.from(pristine);
        for (const { at, value } of mutations) bytes[at] = value;
        outcomes.add(await readEverything(bytes));
      }),
      { numRuns: 3000 },
    );
    // The mutations must reach the decoders, not only file data.
    assert.ok(outcomes.size >= 5, `only these outcomes: ${[...outcomes].join(', ')}`);
  });

  it('throws only IsoError for images cut anywhere', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: pristine.length }), async (length) => {
        const outcome = await readEverything(pristine.subarray(0, length));
        // deep/inner.txt, 6 bytes at block 44, is the last byte any entry uses.
        if (length < 44 * 2048 + 6) assert.notEqual(outcome, 'read', `an image cut at ${length} read without error`);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes random system use areas, directory extents and descriptors into values or IsoError', () => {
    const onlyIsoErrors = (decode: () => unknown): void => {
      try {
        decode();
      } catch (error) {
        if (!(error instanceof IsoError)) throw error;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat(1 << 30), (bytes, offset) => {
        onlyIsoErrors(() => {
          const info = emptySystemUseInfo();
          decodeSystemUseArea(bytes, offset, info);
          if (info.symlink) symlinkTarget(info.symlink, (name) => Buffer.from(name).toString());
        });
        onlyIsoErrors(() => decodeDirectoryRecords(bytes, offset));
        onlyIsoErrors(() => decodeVolumeDescriptor(bytes, offset, offset % 2 === 0));
      }),
      { numRuns: 3000 },
    );
  });
});
