import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBytes, formatDuration } from '../../src/text/format.ts';

describe('sizes and durations as text', () => {
  test('bytes: whole bytes below 1 KiB, then three significant digits', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(15 * 1024 * 1024), '15.0 MiB');
    assert.equal(formatBytes(300 * 1024 ** 3), '300 GiB');
  });

  test('durations: seconds, then minutes, then hours', () => {
    assert.equal(formatDuration(7), '7s');
    assert.equal(formatDuration(65), '1m05s');
    assert.equal(formatDuration(3725), '1h02m05s');
  });
});
