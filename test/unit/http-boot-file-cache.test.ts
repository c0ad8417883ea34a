import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachePerConfig } from '../../src/boot/image-files.ts';
import type { BootstationConfig } from '../../src/config/model.ts';

const configA = { images: [] } as unknown as BootstationConfig;
const configB = { images: [] } as unknown as BootstationConfig;

describe('cachePerConfig (the boot-file and image-state checks behind /boot.ipxe, /menu.ipxe and /api/images)', () => {
  it('shares one check among the requests of 2 s, and checks again after that, for a new config, or after forget()', async () => {
    let now = 0;
    let checks = 0;
    const cached = cachePerConfig(async () => ++checks, { now: () => now });
    assert.deepEqual(await Promise.all([cached(configA), cached(configA), cached(configA)]), [1, 1, 1], 'requests at once share one check');
    now = 2000;
    assert.equal(await cached(configA), 1, 'still fresh at 2 s');
    now = 2001;
    assert.equal(await cached(configA), 2, 'checked again after 2 s');
    assert.equal(await cached(configB), 3, 'a reloaded config is checked at once');
    cached.forget();
    assert.equal(await cached(configB), 4, 'forget() after an ingest: the next request checks');
  });
});
