import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileEtag, parseSingleRange, planFileResponse, type FileFacts, type FileRequestHeaders } from '../../src/http/conditional.ts';

// 1000 bytes, modified at 2023-11-14T22:13:20.123Z
const FILE: FileFacts = { size: 1000, mtimeMs: 1_700_000_000_123.7 };
const ETAG = '"3e8-18bcfe5687b"';
const LAST_MODIFIED = 'Tue, 14 Nov 2023 22:13:20 GMT';
const VALIDATORS = { etag: ETAG, 'last-modified': LAST_MODIFIED, 'accept-ranges': 'bytes' };

const plan = (headers: FileRequestHeaders, file: FileFacts = FILE) => planFileResponse(headers, file);
const whole = { status: 200, headers: { ...VALIDATORS, 'content-length': '1000' }, start: 0, end: 999 };
const partial = (start: number, end: number, size = 1000) => ({
  status: 206,
  headers: { ...VALIDATORS, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${size}` },
  start,
  end,
});
const unsatisfiable = { status: 416, headers: { ...VALIDATORS, 'content-range': 'bytes */1000' } };
const notModified = { status: 304, headers: VALIDATORS };

describe('validators', () => {
  test('the ETag is size and whole-millisecond mtime in hex; Last-Modified is the mtime in whole seconds', () => {
    assert.equal(fileEtag(FILE), ETAG);
    assert.equal(fileEtag({ size: 0, mtimeMs: 0 }), '"0-0"');
    assert.notEqual(fileEtag({ size: 1000, mtimeMs: FILE.mtimeMs + 1 }), ETAG, 'a change 1 ms later must change the ETag');
    assert.notEqual(fileEtag({ size: 1001, mtimeMs: FILE.mtimeMs }), ETAG, 'a change of size must change the ETag');
    assert.deepEqual(plan({}), whole);
  });
});

describe('Range', () => {
  const cases: [string, object][] = [
    ['bytes=0-99', partial(0, 99)],
    ['bytes=100-199', partial(100, 199)],
    ['bytes=999-999', partial(999, 999)],
    ['bytes=0-0', partial(0, 0)],
    ['bytes=500-', partial(500, 999)],
    ['bytes=0-', partial(0, 999)],
    ['bytes=-1', partial(999, 999)],
    ['bytes=-100', partial(900, 999)],
    ['bytes=-1000', partial(0, 999)],
    ['bytes=-5000', partial(0, 999)], // a suffix longer than the file is the whole file, as 206
    ['bytes=900-5000', partial(900, 999)], // an end beyond the file is clipped
    ['bytes=0-99999999999999999999', partial(0, 999)],
    ['Bytes = 10 - 19', partial(10, 19)],
    ['bytes=1000-', unsatisfiable], // start = size
    ['bytes=1000-2000', unsatisfiable],
    ['bytes=5000-6000', unsatisfiable],
    ['bytes=99999999999999999999-', unsatisfiable],
    ['bytes=-0', unsatisfiable],
    ['bytes=200-100', whole], // last < first: the header is invalid and ignored
    ['bytes=0-10,20-30', whole], // several ranges: the whole file (RFC 9110 §14.2 allows ignoring Range)
    ['bytes=0-10, 20-30', whole],
    ['bytes=-', whole],
    ['bytes=abc', whole],
    ['bytes=1.5-2', whole],
    ['items=0-10', whole],
    ['0-10', whole],
    ['', whole],
  ];
  for (const [range, expected] of cases) {
    test(`Range: ${JSON.stringify(range)} → ${(expected as { status: number }).status}`, () => {
      assert.deepEqual(plan({ range }), expected);
    });
  }

  test('a zero-size file: no Range is 200 with Content-Length 0 and nothing to read; any range is 416 bytes */0', () => {
    const empty = { size: 0, mtimeMs: FILE.mtimeMs };
    const emptyValidators = { ...VALIDATORS, etag: '"0-18bcfe5687b"' };
    assert.deepEqual(plan({}, empty), { status: 200, headers: { ...emptyValidators, 'content-length': '0' }, start: 0, end: -1 });
    for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-1', 'bytes=-0']) {
      assert.deepEqual(plan({ range }, empty), { status: 416, headers: { ...emptyValidators, 'content-range': 'bytes */0' } }, range);
    }
  });

  test('parseSingleRange on its own', () => {
    assert.deepEqual(parseSingleRange('bytes=1-2', 10), { start: 1, end: 2 });
    assert.deepEqual(parseSingleRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.equal(parseSingleRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseSingleRange('bytes=3-2', 10), 'ignore');
    assert.equal(parseSingleRange('bytes=1-2,4-5', 10), 'ignore');
  });
});

describe('If-None-Match and If-Modified-Since', () => {
  test('If-None-Match: the ETag, a list holding it, a weak form of it, or * → 304', () => {
    for (const value of [ETAG, `"other", ${ETAG}`, `"a",${ETAG},"b"`, `W/${ETAG}`, '*', ' * ']) {
      assert.deepEqual(plan({ 'if-none-match': value }), notModified, `If-None-Match: ${value}`);
    }
  });

  test('If-None-Match that does not match → 200, even with an If-Modified-Since that would (RFC 9110 §13.1.3)', () => {
    for (const value of ['"other"', '"3e8-18bcfe5687a"', '3e8-18bcfe5687b', '"other", W/"x"', '']) {
      assert.deepEqual(plan({ 'if-none-match': value }), whole, `If-None-Match: ${value}`);
    }
    assert.deepEqual(plan({ 'if-none-match': '"other"', 'if-modified-since': LAST_MODIFIED }), whole);
  });

  test('If-Modified-Since at or after the modification second → 304; before it, or unparseable → 200', () => {
    assert.deepEqual(plan({ 'if-modified-since': LAST_MODIFIED }), notModified, 'the exact Last-Modified');
    assert.deepEqual(plan({ 'if-modified-since': 'Wed, 15 Nov 2023 00:00:00 GMT' }), notModified, 'later');
    assert.deepEqual(plan({ 'if-modified-since': 'Tue, 14 Nov 2023 22:13:19 GMT' }), whole, 'one second earlier');
    assert.deepEqual(plan({ 'if-modified-since': 'not a date' }), whole, 'garbage');
  });

  test('a 304 wins over a Range', () => {
    assert.deepEqual(plan({ 'if-none-match': ETAG, range: 'bytes=0-9' }), notModified);
  });
});

describe('If-Range', () => {
  test('matching ETag or Last-Modified → the range (206)', () => {
    assert.deepEqual(plan({ range: 'bytes=0-9', 'if-range': ETAG }), partial(0, 9));
    assert.deepEqual(plan({ range: 'bytes=0-9', 'if-range': LAST_MODIFIED }), partial(0, 9));
  });

  test('another ETag, a weak ETag (strong comparison), another date → the whole file (200)', () => {
    for (const value of ['"other"', `W/${ETAG}`, 'Tue, 14 Nov 2023 22:13:21 GMT', 'Tue, 14 Nov 2023 22:13:19 GMT', 'garbage']) {
      assert.deepEqual(plan({ range: 'bytes=0-9', 'if-range': value }), whole, `If-Range: ${value}`);
    }
  });

  test('a mismatching If-Range also turns an unsatisfiable range into the whole file', () => {
    assert.deepEqual(plan({ range: 'bytes=5000-', 'if-range': '"other"' }), whole);
    assert.deepEqual(plan({ range: 'bytes=5000-', 'if-range': ETAG }), unsatisfiable);
  });

  test('If-Range without Range changes nothing', () => {
    assert.deepEqual(plan({ 'if-range': '"other"' }), whole);
  });
});
