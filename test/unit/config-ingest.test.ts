// The `ingest:` section and an image's `ingest: manual | auto`: defaults, values, and located errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_INGEST_SETTINGS, ingestSettingsOf, ingestsAutomatically } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { configProblems as problems } from '../support/config-problems.ts';

const IMAGE = (extra = ''): string => `  - id: live\n    source: {url: "https://example.org/live.tar", sha256: ${'a'.repeat(64)}}\n    boot: {kernel: vmlinuz}\n${extra}`;

describe('ingest settings', () => {
  it('default to auto, daily checks and two kept versions, and stay out of the config unless set', () => {
    const config = parseConfigText(`images:\n${IMAGE()}`, 'images.yaml');
    assert.equal('ingest' in config, false);
    assert.deepEqual(ingestSettingsOf(config), { mode: 'auto', checkEveryMs: 86_400_000, keepVersions: 2 });
    assert.deepEqual(DEFAULT_INGEST_SETTINGS, ingestSettingsOf(config));
    assert.equal(ingestsAutomatically(config.images[0]!, ingestSettingsOf(config)), true);
  });

  it('read mode, check_every in m, h or d, keep_versions, and the image\'s own mode over the global one', () => {
    const config = parseConfigText(`ingest:\n  mode: manual\n  check_every: 30m\n  keep_versions: 0\nimages:\n${IMAGE('    ingest: auto\n')}${IMAGE().replace('id: live', 'id: other')}`, 'images.yaml');
    const settings = ingestSettingsOf(config);
    assert.deepEqual(settings, { mode: 'manual', checkEveryMs: 1_800_000, keepVersions: 0 });
    assert.deepEqual(config.images.map((image) => ingestsAutomatically(image, settings)), [true, false]);
    assert.equal(ingestSettingsOf(parseConfigText('ingest:\n  check_every: 7d\n', 'images.yaml')).checkEveryMs, 7 * 86_400_000);
  });

  it('refuse a bad mode, duration, count, an unknown key and ingest: on a dir or chain image, each at its place', () => {
    assert.deepEqual(problems('ingest:\n  mode: sometimes\n'), ['images.yaml:2:9: ingest.mode: must be auto or manual']);
    assert.deepEqual(problems('ingest:\n  check_every: 10s\n'), ['images.yaml:2:16: ingest.check_every: must be a duration from 1m to 365d, such as 24h, 30m or 7d (units m, h, d)']);
    assert.deepEqual(problems('ingest:\n  check_every: 0m\n'), ['images.yaml:2:16: ingest.check_every: must be a duration from 1m to 365d, such as 24h, 30m or 7d (units m, h, d)']);
    assert.deepEqual(problems('ingest:\n  keep_versions: 11\n'), ['images.yaml:2:18: ingest.keep_versions: must be 0-10']);
    assert.equal(problems('ingest:\n  every: 1h\n').length, 1);
    assert.deepEqual(problems('images:\n  - id: d\n    source: {dir: /srv/d}\n    boot: {kernel: k}\n    ingest: manual\n'), ['images.yaml:5:13: images[0].ingest: only applies to url and path sources']);
    assert.deepEqual(problems('images:\n  - id: c\n    chain: https://boot.netboot.xyz\n    ingest: manual\n'), ['images.yaml:4:13: images[0].ingest: does not apply to a chain image (it runs another iPXE script and has no files)']);
  });
});
