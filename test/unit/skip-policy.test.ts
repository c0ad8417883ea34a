import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipOrFail } from '../support/skip-policy.ts';

describe('skip policy: skips print their reason, and fail under CI=true unless allow-listed', () => {
  it('runs a test that lacks nothing, in CI or not', () => {
    assert.equal(skipOrFail('any-test', undefined, false), false);
    assert.equal(skipOrFail('any-test', undefined, true), false);
  });

  it('skips with the reason outside CI', () => {
    assert.equal(skipOrFail('any-test', 'xorriso is not installed', false), 'xorriso is not installed');
  });

  it('fails a skip in CI, naming the test, the reason and where to allow it', () => {
    assert.throws(() => skipOrFail('iso9660-xorriso', 'xorriso is not installed', true), /^Error: CI=true, but test "iso9660-xorriso" would be skipped: xorriso is not installed; .*test\/support\/skip-policy\.ts/);
  });

  it('lets an allow-listed test skip in CI', () => {
    assert.equal(skipOrFail('netboot-efi32-ipxe-binary', 'no ipxe32.efi', true), 'no ipxe32.efi');
  });
});
