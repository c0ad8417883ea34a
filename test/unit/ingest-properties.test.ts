// Properties of the pure ingest parts over random input: archive names and headers come from strangers.
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { detectArchiveType } from '../../src/ingest/archive-type.ts';
import { parseChecksumList } from '../../src/ingest/checksum-list.ts';
import { parseContentRange } from '../../src/ingest/content-range.ts';
import { linkStaysInside, normalizeEntryPath } from '../../src/ingest/entry-names.ts';
import { compileMatcher, matchGlob } from '../../src/ingest/globs.ts';

// Names built from the characters that matter for escaping a folder.
const pathish = fc.array(fc.constantFrom('a', 'b', '.', '..', '/', '\\', '\0', ' ', '*'), { maxLength: 12 }).map((parts) => parts.join(''));
const anyName = fc.oneof(pathish, fc.string({ maxLength: 40 }));

describe('ingest parsers over random input', () => {
  test('an accepted entry name always stays inside the image folder', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const result = normalizeEntryPath(name);
        if (!result.ok) return;
        const resolved = posix.resolve('/image', result.path);
        assert.ok(resolved.startsWith('/image/'), `${JSON.stringify(name)} became ${resolved}`);
        assert.equal(posix.normalize(result.path), result.path, 'already normal: no ".", "..", or doubled slashes');
        assert.ok(!result.path.includes('\\') && !result.path.includes('\0'));
      }),
      { numRuns: 2000 },
    );
  });

  test('an accepted symlink resolves inside the image folder', () => {
    fc.assert(
      fc.property(pathish, pathish, (path, target) => {
        const entry = normalizeEntryPath(path);
        if (!entry.ok || !linkStaysInside(entry.path, target)) return;
        const resolved = posix.resolve('/image', posix.dirname(entry.path), target);
        assert.ok(resolved === '/image' || resolved.startsWith('/image/'), `${entry.path} → ${target} resolves to ${resolved}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('detection, checksum lists, Content-Range and globs never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
        detectArchiveType(bytes);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), anyName, anyName, (text, pattern, path) => {
        parseChecksumList(text);
        parseContentRange(text);
        matchGlob(pattern, path);
        compileMatcher([pattern]).matches(path);
      }),
      { numRuns: 1000 },
    );
  });

  test('a single * never matches across a slash', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,5}$/), fc.stringMatching(/^[a-z]{1,5}$/), (a, b) => {
        assert.equal(matchGlob('*', `${a}/${b}`), false);
        assert.equal(matchGlob('**', `${a}/${b}`), true);
      }),
    );
  });
});
