import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IngestSpec } from '../../src/config/model.ts';
import { fingerprintOf, isUpToDate, parseImageManifest, type ImageManifest } from '../../src/ingest/manifest.ts';

const SPEC: IngestSpec = {
  from: { kind: 'url', url: 'https://example.org/a.iso', fetch: 'all' },
  insecure: false,
  checksum: { algorithm: 'sha256', value: 'a'.repeat(64) },
  extract: ['b', 'a'],
  renames: { z: 'z-*', y: 'y-*' },
};
const DIGEST = { algorithm: 'sha256', value: 'a'.repeat(64) } as const;

function manifestWith(spec: IngestSpec, digest = DIGEST): ImageManifest {
  return {
    format: 1,
    id: 'x',
    fingerprint: fingerprintOf(spec, digest),
    checksumSource: 'config',
    archiveVerified: true,
    archive: { name: 'a.iso', type: 'iso9660', size: 1 },
    files: [],
    ingestedAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('manifest fingerprint', () => {
  test('the same source, checksum and patterns are up to date, whatever their order', () => {
    const reordered: IngestSpec = { ...SPEC, extract: ['a', 'b'], renames: { y: 'y-*', z: 'z-*' } };
    assert.equal(isUpToDate(manifestWith(SPEC), fingerprintOf(reordered, DIGEST)), true);
    assert.equal(isUpToDate(undefined, fingerprintOf(SPEC, DIGEST)), false);
  });

  test('a new URL, digest, pattern, fetch mode or kept archive means ingesting again', () => {
    const installed = manifestWith(SPEC);
    const changes: IngestSpec[] = [
      { ...SPEC, from: { kind: 'url', url: 'https://example.org/b.iso', fetch: 'all' } },
      { ...SPEC, from: { kind: 'url', url: 'https://example.org/a.iso', fetch: 'files' } },
      { ...SPEC, extract: ['a', 'b', 'c'] },
      { ...SPEC, keepArchiveAs: 'a.iso' },
    ];
    for (const spec of changes) assert.equal(isUpToDate(installed, fingerprintOf(spec, DIGEST)), false, JSON.stringify(spec));
    assert.equal(isUpToDate(installed, fingerprintOf(SPEC, { algorithm: 'sha256', value: 'b'.repeat(64) })), false);
  });

  test('a local file without checksum is compared by size and modification time', () => {
    const local: IngestSpec = { from: { kind: 'path', path: '/isos/x.iso' }, insecure: false, extract: ['k'] };
    const installed = { ...manifestWith(local), fingerprint: fingerprintOf(local, undefined, { size: 10, mtimeMs: 5 }) };
    assert.equal(isUpToDate(installed, fingerprintOf(local, undefined, { size: 10, mtimeMs: 5 })), true);
    assert.equal(isUpToDate(installed, fingerprintOf(local, undefined, { size: 10, mtimeMs: 6 })), false);
  });

  test('manifests this version did not write are not trusted', () => {
    assert.equal(parseImageManifest('not json'), undefined);
    assert.equal(parseImageManifest('{"format":2,"id":"x","files":[],"fingerprint":{}}'), undefined);
    assert.equal(parseImageManifest(JSON.stringify(manifestWith(SPEC)))?.id, 'x');
  });
});
