import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProgress } from '../../src/ingest/progress.ts';

describe('progress text', () => {
  test('with a total: percentage, rate of this run only, ETA', () => {
    const MiB = 1024 * 1024;
    const line = formatProgress({ received: 60 * MiB, total: 100 * MiB, resumedFrom: 40 * MiB, elapsedMs: 2000 });
    assert.equal(line, '60.0 MiB of 100 MiB (60%), 10.0 MiB/s, 4s left');
  });

  test('without a total, or before any byte: no percentage, no ETA', () => {
    assert.equal(formatProgress({ received: 2048, total: undefined, resumedFrom: 0, elapsedMs: 1000 }), '2.00 KiB, 2.00 KiB/s');
    assert.equal(formatProgress({ received: 0, total: 10, resumedFrom: 0, elapsedMs: 0 }), '0 B of 10 B (0%), 0 B/s');
  });
});
