import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIpxeBuildManifest, BuildRecordError, parseBuildRecord, parseIpxeBuildManifest, renderIpxeBuildManifest, reuseRecord, staleOutputs, type BuildRecord } from '../../src/ipxe/manifest.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const D = 'd'.repeat(64);

const fullRecord = [
  `source\tv2.0.0\t0123456789abcdef0123456789abcdef01234567\t${A}`,
  `output\tbios\tundionly.kpxe\t${B}\t${C}\tbuilt`,
  `output\tefi64\tipxe.efi\t${C}\t${D}\treused`,
  `output\tefi64\tsnponly.efi\t${D}\t${D}\treused`,
  '',
].join('\n');

test('a build record from scripts/build-ipxe.sh is parsed; anything else is refused with its line', () => {
  const record = parseBuildRecord(fullRecord);
  assert.equal(record.version, 'v2.0.0');
  assert.equal(record.commit, '0123456789abcdef0123456789abcdef01234567');
  assert.deepEqual(record.outputs.map((output) => [output.file, output.status]), [['undionly.kpxe', 'built'], ['ipxe.efi', 'reused'], ['snponly.efi', 'reused']]);
  assert.equal(parseBuildRecord(`source\tunknown\t-\t${A}\n`).commit, null, '"-" means the commit is not known');
  assert.throws(() => parseBuildRecord(`output\tbios\tundionly.kpxe\t${B}\t${C}\tbuilt\n`), /no source line/);
  assert.throws(() => parseBuildRecord(`source\tv2\t-\t${A}\noutput\tppc\tx.efi\t${B}\t${C}\tbuilt\n`), (error: unknown) => error instanceof BuildRecordError && /line 2 names the unknown target "ppc"/.test(error.message));
  assert.throws(() => parseBuildRecord(`source\tv2\t-\t${A}\noutput\tbios\tx\tnot-a-digest\t${C}\tbuilt\n`), /line 2 has no SHA-256 digests/);
  assert.throws(() => parseBuildRecord('hello\n'), /line 1 is neither a source nor an output line/);
});

test('the manifest lists every output with its SHA-256, and round-trips through its JSON', () => {
  const manifest = createIpxeBuildManifest({ record: parseBuildRecord(fullRecord), keymap: 'de', httpPort: 80, builtAt: new Date('2026-03-06T12:00:00Z') });
  assert.equal(manifest.builder, 'bootstation');
  assert.deepEqual(manifest.targets, ['bios', 'efi64']);
  assert.deepEqual(manifest.outputs.map((output) => [output.file, output.sha256]), [['undionly.kpxe', B], ['ipxe.efi', C], ['snponly.efi', D]]);
  assert.equal(manifest.builtAt, '2026-03-06T12:00:00.000Z');
  assert.deepEqual(parseIpxeBuildManifest(renderIpxeBuildManifest(manifest)), manifest);
  assert.equal(parseIpxeBuildManifest(renderIpxeBuildManifest({ ...manifest, builder: 'x' } as never)), undefined);
  assert.equal(parseIpxeBuildManifest('[]'), undefined);
});

test('a build of some targets keeps the other outputs of the same build and drops those of another', () => {
  const previous = createIpxeBuildManifest({ record: parseBuildRecord(fullRecord), keymap: 'de', httpPort: 80, builtAt: new Date(0) });
  const biosOnly: BuildRecord = { version: 'v2.0.0', commit: null, identity: A, outputs: [{ target: 'bios', file: 'undionly.kpxe', sha256: D, inputs: C, status: 'built' }] };
  const same = createIpxeBuildManifest({ record: biosOnly, keymap: 'de', httpPort: 80, builtAt: new Date(1), previous });
  assert.deepEqual(same.outputs.map((output) => [output.file, output.sha256]), [['undionly.kpxe', D], ['ipxe.efi', C], ['snponly.efi', D]]);
  assert.deepEqual(same.targets, ['bios', 'efi64']);
  assert.deepEqual(staleOutputs(previous, biosOnly), []);

  const otherKeymap = { ...biosOnly, identity: B };
  const other = createIpxeBuildManifest({ record: otherKeymap, keymap: 'fr', httpPort: 80, builtAt: new Date(1), previous });
  assert.deepEqual(other.outputs.map((output) => output.file), ['undionly.kpxe']);
  assert.deepEqual(staleOutputs(previous, otherKeymap), ['ipxe.efi', 'snponly.efi']);
});

test('the reuse record hands the manifest back to the script in its own line format', () => {
  const manifest = createIpxeBuildManifest({ record: parseBuildRecord(fullRecord), keymap: 'de', httpPort: 80, builtAt: new Date(0) });
  assert.equal(reuseRecord(manifest), [`output\tbios\tundionly.kpxe\t${B}\t${C}\tbuilt`, `output\tefi64\tipxe.efi\t${C}\t${D}\tbuilt`, `output\tefi64\tsnponly.efi\t${D}\t${D}\tbuilt`, ''].join('\n'));
});
