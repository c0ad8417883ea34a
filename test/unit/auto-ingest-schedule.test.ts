import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/parse.ts';
import { changesUpstream } from '../../src/appliance/auto-ingest.ts';

// Which images the ingest.check_every schedule re-checks: those whose files can change while images.yaml does not.
describe('changesUpstream: what the release check re-checks', () => {
  const specOf = (image: string) => {
    const spec = parseConfigText(`images:\n  - ${image}\n`, 'images.yaml', { dataDir: '/data' }).images[0]!.ingest;
    assert.ok(spec, image);
    return spec;
  };

  test('every release a recipe finds, latest or pinned to a codename, a number or an exact version (point releases)', () => {
    for (const version of ['latest', 'bookworm', '12', '12.8']) {
      assert.equal(changesUpstream(specOf(`{id: d, recipe: debian-netboot, version: "${version}"}`)), true, version);
    }
    assert.equal(changesUpstream(specOf('{id: a, recipe: alpine, version: "3.20"}')), true);
  });

  test('a checksums list re-read on the schedule; a fixed URL with its sha256 or a local path is not', () => {
    assert.equal(changesUpstream(specOf('{id: l, recipe: debian-netboot, source: {url: "https://x/netboot.tar.gz", checksums: "https://x/SHA256SUMS"}}')), true);
    assert.equal(changesUpstream(specOf(`{id: f, recipe: debian-netboot, source: {url: "https://x/netboot.tar.gz", sha256: "${'a'.repeat(64)}"}}`)), false);
    assert.equal(changesUpstream(specOf('{id: p, recipe: debian-netboot, source: {path: /srv/netboot.tar.gz}}')), false);
  });
});
