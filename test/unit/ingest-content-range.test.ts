import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { continuesAt, parseContentRange, parseUnsatisfiedRange } from '../../src/ingest/content-range.ts';

describe('Content-Range', () => {
  test('parses byte ranges and refuses malformed or impossible ones', () => {
    assert.deepEqual(parseContentRange('bytes 100-199/1000'), { first: 100, last: 199, complete: 1000 });
    assert.deepEqual(parseContentRange('bytes 0-0/*'), { first: 0, last: 0, complete: undefined });
    for (const bad of [undefined, '', 'bytes 200-100/1000', 'bytes 0-1000/1000', 'items 0-1/2', 'bytes */1000', 'bytes 1-2']) {
      assert.equal(parseContentRange(bad), undefined, `${bad} must not parse`);
    }
    assert.equal(parseUnsatisfiedRange('bytes */1000'), 1000);
    assert.equal(parseUnsatisfiedRange('bytes 0-1/2'), undefined);
  });

  test('only a 206 that starts at the requested offset continues a partial download', () => {
    assert.equal(continuesAt(206, 'bytes 500-999/1000', 500), true);
    assert.equal(continuesAt(200, undefined, 500), false, 'a 200 means the server ignored Range');
    assert.equal(continuesAt(206, 'bytes 0-999/1000', 500), false);
    assert.equal(continuesAt(206, undefined, 500), false);
  });
});
