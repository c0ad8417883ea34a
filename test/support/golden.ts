import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures, where golden files live. */
export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/**
 * Compares actual (text or bytes) with test/fixtures/<relativeName>. With UPDATE_GOLDEN=1 it writes
 * the file instead, so `UPDATE_GOLDEN=1 node --test …` regenerates every golden file a test uses.
 */
export function assertGolden(relativeName: string, actual: string | Uint8Array): void {
  const file = join(FIXTURES_DIR, relativeName);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  let expected: Buffer;
  try {
    expected = readFileSync(file);
  } catch {
    assert.fail(`golden file test/fixtures/${relativeName} is missing; run the test with UPDATE_GOLDEN=1 to create it`);
  }
  const hint = `differs from golden file test/fixtures/${relativeName} (if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff)`;
  if (typeof actual === 'string') assert.equal(actual, expected.toString('utf8'), hint);
  else assert.deepEqual(Buffer.from(actual), expected, hint);
}
