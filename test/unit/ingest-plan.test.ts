import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { archiveFileName, servedArchiveName } from '../../src/config/archive-name.ts';
import type { ImageConfig, IngestSpec } from '../../src/config/model.ts';
import { fingerprintOf, type ImageManifest } from '../../src/ingest/manifest.ts';
import { cacheFileName, planIngest, type IngestState } from '../../src/ingest/plan.ts';

const SHA = 'a'.repeat(64);
const URL_SPEC: IngestSpec = { from: { kind: 'url', url: 'https://example.org/d/live.iso', fetch: 'all' }, insecure: false, extract: ['vmlinuz'], checksum: { algorithm: 'sha256', value: SHA } };
const image = (spec: IngestSpec): ImageConfig => ({ id: 'live', label: 'Live', dir: '/data/images/live', kernel: 'vmlinuz', initrds: [], args: '', ingest: spec });
const installed = (spec: IngestSpec, expected = spec.checksum && 'algorithm' in spec.checksum ? spec.checksum : undefined): ImageManifest =>
  ({ format: 1, id: 'live', fingerprint: fingerprintOf(spec, expected), files: [], ingestedAt: '2026-01-01T00:00:00.000Z' }) as unknown as ImageManifest;
const state = (overrides: Partial<IngestState> = {}): IngestState => ({ installed: undefined, local: undefined, bootFilesPresent: true, ...overrides });
const sha = { algorithm: 'sha256', value: SHA } as const;

describe('ingest plan', () => {
  test('install, up to date, forced, changed and missing files are decided from the manifest and the files', () => {
    const plan = (s: IngestState, force = false, spec = URL_SPEC) => planIngest(image(spec), spec, s, { force, expected: sha }).decision;
    assert.deepEqual(plan(state()), { kind: 'install', why: 'not-ingested' });
    assert.deepEqual(plan(state({ installed: installed(URL_SPEC) })), { kind: 'up-to-date' });
    assert.deepEqual(plan(state({ installed: installed(URL_SPEC) }), true), { kind: 'install', why: 'forced' });
    assert.deepEqual(plan(state({ installed: installed(URL_SPEC), bootFilesPresent: false })), { kind: 'install', why: 'files-missing' });
    const other: IngestSpec = { ...URL_SPEC, extract: ['vmlinuz', 'initrd'] };
    assert.deepEqual(plan(state({ installed: installed(other) })), { kind: 'install', why: 'changed' });
  });

  test('a checksums list defers the comparison until its digest is known', () => {
    const spec: IngestSpec = { ...URL_SPEC, checksum: { listUrl: 'https://example.org/d/SHA256SUMS' } };
    const dry = planIngest(image(spec), spec, state({ installed: installed(spec, sha) }), { force: false, expected: undefined });
    assert.deepEqual(dry.decision, { kind: 'compare-after-checksum-list' });
    assert.equal(dry.fingerprint, undefined);
    assert.deepEqual(planIngest(image(spec), spec, state({ installed: installed(spec, sha) }), { force: false, expected: sha }).decision, { kind: 'up-to-date' });
  });

  test('the fetch: a path is read, fetch: files reads ranges unless the archive is kept, the cache is reused unless forced without a checksum', () => {
    const pathSpec: IngestSpec = { from: { kind: 'path', path: '/isos/live.iso' }, insecure: false, extract: ['vmlinuz'] };
    assert.deepEqual(planIngest(image(pathSpec), pathSpec, state(), { force: false, expected: undefined }).fetch, { kind: 'read-file', path: '/isos/live.iso' });
    const download = { kind: 'download', url: 'https://example.org/d/live.iso', cacheFile: cacheFileName('live', 'https://example.org/d/live.iso'), reuseCache: true };
    const files: IngestSpec = { ...URL_SPEC, from: { kind: 'url', url: 'https://example.org/d/live.iso', fetch: 'files' } };
    assert.deepEqual(planIngest(image(files), files, state(), { force: false, expected: sha }).fetch, { kind: 'read-ranges', url: 'https://example.org/d/live.iso', fallback: download });
    const kept: IngestSpec = { ...files, keepArchiveAs: 'live.iso' };
    assert.deepEqual(planIngest(image(kept), kept, state(), { force: false, expected: sha }).fetch, download);
    const insecure: IngestSpec = { from: URL_SPEC.from, insecure: true, extract: ['vmlinuz'] };
    assert.equal((planIngest(image(insecure), insecure, state(), { force: true, expected: undefined }).fetch as typeof download).reuseCache, false);
    assert.equal((planIngest(image(URL_SPEC), URL_SPEC, state(), { force: true, expected: sha }).fetch as typeof download).reuseCache, true);
  });

  test('one archive name: decoded for checksum lists and the cache, archive.iso when none or none safe to serve', () => {
    const url = (u: string) => ({ kind: 'url', url: u, fetch: 'all' }) as const;
    assert.equal(archiveFileName(url('https://example.org/a/my%20live.iso?x=1')), 'my live.iso');
    assert.equal(servedArchiveName(url('https://example.org/a/my%20live.iso')), 'archive.iso');
    assert.equal(archiveFileName(url('https://example.org/a/')), 'archive.iso');
    assert.equal(servedArchiveName({ kind: 'path', path: '/isos/debian-12.iso' }), 'debian-12.iso');
    assert.match(cacheFileName('live', 'https://example.org/a/my%20live.iso'), /^live--[0-9a-f]{12}--my_live\.iso$/);
  });
});
