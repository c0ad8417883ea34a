import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { BootstationConfig } from '../../src/config/model.ts';
import { findBootFile } from '../../src/boot/policy.ts';
import { openForReading } from '../../src/files/boot-files.ts';
import { findIpxeBinaries } from '../../src/ipxe/binaries.ts';

const dir = await mkdtemp(join(tmpdir(), 'bootstation-bootfiles-'));
after(() => rm(dir, { recursive: true, force: true }));

// A data/ipxe folder whose ipxe.efi is a symlink elsewhere, like Debian's stock binaries into /boot.
const ipxeDir = join(dir, 'ipxe');
const outside = join(dir, 'outside');
const imageDir = join(dir, 'debian');
await mkdir(ipxeDir);
await mkdir(outside);
await mkdir(join(imageDir, 'Install'), { recursive: true });
await writeFile(join(outside, 'ipxe.efi'), 'efi binary');
await writeFile(join(outside, 'secret'), 'secret');
await symlink(join(outside, 'ipxe.efi'), join(ipxeDir, 'ipxe.efi'));
await symlink(join(outside, 'secret'), join(ipxeDir, 'leak'));
await writeFile(join(ipxeDir, 'undionly.kpxe'), 'bios binary');
await writeFile(join(imageDir, 'Install', 'vmlinuz'), 'kernel bytes');
// Present on disk, yet never served: iPXE 2.0 EFI would run it on top of the embedded script.
await writeFile(join(ipxeDir, 'autoexec.ipxe'), '#!ipxe\nshell\n');

const config = {
  images: [{ id: 'debian', label: 'Debian', dir: imageDir, kernel: 'Install/vmlinuz', initrds: [], args: '' }],
} as unknown as BootstationConfig;
const ipxe = await findIpxeBinaries(ipxeDir, join(dir, 'no-stock'));

test('first-stage binaries are found by name in any case, also through symlinks out of the folder', async () => {
  assert.equal(ipxe.kind, 'custom');
  for (const name of ['ipxe.efi', 'IPXE.EFI', 'undionly.kpxe']) {
    const found = await findBootFile(name, ipxe, config);
    assert.ok(found.ok, `${name} must be found`);
  }
});

test('image files are found under images/<id>/ ignoring case and read back block by block', async () => {
  const found = await findBootFile('images/debian/install/VMLINUZ', ipxe, config);
  assert.ok(found.ok, 'a case-insensitive image path must be found');
  const file = await openForReading(found.path);
  try {
    assert.equal(file.size, 12);
    assert.equal(Buffer.from(await file.read(7, 100)).toString(), 'bytes', 'a read past the end returns the rest');
  } finally {
    await file.close();
  }
});

test('paths that leave their folder or name nothing are refused with a reason', async () => {
  const cases: Array<[string, string]> = [
    ['leak', 'outside-root'],
    ['../outside/secret', 'dot-segment'],
    ['images/debian/../../outside/secret', 'dot-segment'],
    ['images/nope/vmlinuz', 'unknown-image'],
    ['images/debian/Install', 'not-a-file'],
    ['autoexec.ipxe', 'not-found'],
    ['AutoExec.iPXE', 'not-found'],
    ['a//b', 'empty-segment'],
    ['nul\0byte', 'nul-byte'],
  ];
  for (const [path, reason] of cases) {
    const found = await findBootFile(path, ipxe, config);
    assert.deepEqual(found, { ok: false, reason }, `${JSON.stringify(path)} must be refused as ${reason}`);
  }
});

test('an empty data/ipxe falls back to the stock folder and says so', async () => {
  const stock = join(dir, 'stock');
  await mkdir(stock);
  await writeFile(join(stock, 'undionly.kpxe'), 'stock');
  const fallback = await findIpxeBinaries(join(dir, 'empty-ipxe'), stock);
  assert.equal(fallback.kind, 'stock');
  assert.equal(fallback.dir, stock);
  assert.deepEqual([...fallback.files.keys()], ['undionly.kpxe']);
});

test('only a manifest.json written by bootstation marks data/ipxe as its own build', async () => {
  const own = join(dir, 'own-build');
  await mkdir(own);
  await writeFile(join(own, 'undionly.kpxe'), 'bios binary');
  const stock = join(dir, 'no-stock');
  assert.equal((await findIpxeBinaries(own, stock)).kind, 'custom', 'no manifest: user-supplied binaries');
  // The name the build pipeline used before the issue settled on manifest.json does not count.
  await writeFile(join(own, 'build.json'), JSON.stringify({ builder: 'bootstation' }));
  assert.equal((await findIpxeBinaries(own, stock)).kind, 'custom', 'build.json is not the manifest');
  const manifest = { builder: 'bootstation', version: 'v2.0.0', commit: null, keymap: 'de', httpPort: 80, features: { enabled: [], leftOutOfBios: [] }, targets: ['bios'], outputs: [{ target: 'bios', file: 'undionly.kpxe', sha256: 'a'.repeat(64), inputs: 'b'.repeat(64) }], identity: 'c'.repeat(64), builtAt: '2026-03-06T00:00:00.000Z' };
  await writeFile(join(own, 'manifest.json'), JSON.stringify({ ...manifest, builder: 'someone-else' }));
  assert.equal((await findIpxeBinaries(own, stock)).kind, 'custom', 'another builder');
  await writeFile(join(own, 'manifest.json'), '{"builder": "bootstation"');
  assert.equal((await findIpxeBinaries(own, stock)).kind, 'custom', 'broken JSON');
  await writeFile(join(own, 'manifest.json'), JSON.stringify(manifest));
  const found = await findIpxeBinaries(own, stock);
  assert.equal(found.kind, 'own-build');
  assert.deepEqual(found.kind === 'own-build' && found.build, { version: 'v2.0.0', keymap: 'de', builtAt: '2026-03-06T00:00:00.000Z' });
});
