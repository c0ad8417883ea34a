import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeVerification } from '../../src/ingest/ingest-image.ts';
import type { ImageManifest } from '../../src/ingest/manifest.ts';

// Only the fields describeVerification reads.
const manifest = (fields: Pick<ImageManifest, 'checksumSource' | 'archiveVerified' | 'unverifiedReason'>, checksum: string | null = 'sha256:ab'): ImageManifest =>
  ({ ...fields, fingerprint: { checksum } }) as ImageManifest;

describe('how an image was verified, in words', () => {
  test('says where the digest came from and whether its list travelled over HTTPS', () => {
    assert.equal(describeVerification(manifest({ checksumSource: 'config', archiveVerified: true })), 'archive verified (sha256 from images.yaml)');
    assert.equal(
      describeVerification(manifest({ checksumSource: { listUrl: 'https://deb.debian.org/debian/dists/stable/main/installer-amd64/current/images/SHA256SUMS' }, archiveVerified: true })),
      'archive verified (sha256 from deb.debian.org over HTTPS)',
    );
    assert.equal(
      describeVerification(manifest({ checksumSource: { listUrl: 'http://mirror.lan:8000/SHA256SUMS' }, archiveVerified: true }, 'sha512:cd')),
      'archive verified (sha512 from mirror.lan:8000 over plain HTTP, which anyone on the way could change)',
    );
    assert.equal(describeVerification(manifest({ checksumSource: 'none', archiveVerified: false, unverifiedReason: 'insecure: true in images.yaml' }, null)), 'archive NOT verified: insecure: true in images.yaml');
  });
});
