import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Docker from 'dockerode';
import { DEFAULT_BASE_IMAGE } from '../../src/ipxe/docker-context.ts';
import { parseManifest } from '../../src/ipxe/manifest.ts';
import { runCli } from '../support/cli.ts';
import { createStandInIpxeSource } from '../support/ipxe-stand-in-source.ts';

// `bootstation ipxe build` through a real Docker engine, with a STAND-IN iPXE source tree (the real
// source cannot be downloaded here). Needs an engine at /var/run/docker.sock (or DOCKER_HOST) holding
// the base image, whose containers reach Debian's package mirrors; skipped with the reason otherwise.
const docker = new Docker();
const baseImage = process.env['BOOTSTATION_IPXE_BASE_IMAGE'] ?? DEFAULT_BASE_IMAGE;
const skip = await whyNoDocker();

async function whyNoDocker(): Promise<string | false> {
  const answers = await Promise.race([docker.ping().then(() => true, () => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))]);
  if (!answers) return 'no Docker engine answers at /var/run/docker.sock (CI starts one with the Docker issue)';
  // No registry is reachable here, so the base image must already be in the engine.
  const present = await docker.getImage(baseImage).inspect().then(() => true, () => false);
  return present ? false : `the engine has no ${baseImage} image; load one or set BOOTSTATION_IPXE_BASE_IMAGE to a Debian image it has`;
}

const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-docker-'));
after(() => rm(dir, { recursive: true, force: true }));

test('builds the ipxe stage, shows its output and copies the binaries with a manifest into data/ipxe', { skip, timeout: 15 * 60_000 }, async () => {
  const source = join(dir, 'stand-in-ipxe-source');
  await createStandInIpxeSource(source, join(dir, 'stand-in-record-in-the-container'));
  await writeFile(join(dir, 'images.yaml'), 'ipxe:\n  keymap: de\n');
  const data = join(dir, 'data');
  const result = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--targets', 'bios,efi64'], { BOOTSTATION_IPXE_BASE_IMAGE: baseImage });
  assert.equal(result.code, 0, `the Docker build must succeed:\n${result.stdout.slice(-4000)}${result.stderr}`);
  assert.match(result.stdout, /build-ipxe: building efi64 \(bin-x86_64-efi\/ipxe\.efi bin-x86_64-efi\/snponly\.efi\)/, 'the build output is shown');
  assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['ipxe.efi', 'manifest.json', 'snponly.efi', 'undionly.kpxe']);
  assert.match(await readFile(join(data, 'ipxe', 'undionly.kpxe'), 'utf8'), /^stand-in build of bin\/undionly\.kpxe\n#define KEYBOARD_MAP de\n/);
  const manifest = parseManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
  assert.ok(manifest, 'a manifest bootstation wrote');
  assert.equal(manifest.keymap, 'de');
  assert.deepEqual(manifest.targets, ['bios', 'efi64']);
  for (const output of manifest.outputs) {
    assert.equal(output.sha256, createHash('sha256').update(await readFile(join(data, 'ipxe', output.file))).digest('hex'), `SHA-256 of ${output.file}`);
  }

  const again = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--targets', 'bios,efi64'], { BOOTSTATION_IPXE_BASE_IMAGE: baseImage });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Using cache/, "Docker's layer cache serves unchanged inputs");
  assert.match(again.stdout, /unchanged, kept undionly\.kpxe, ipxe\.efi, snponly\.efi/);

  // A failing RUN (the source lacks the keymap) is reported with the engine's reason, and data/ipxe stays as it was.
  await rm(join(source, 'src', 'hci', 'keymap', 'keymap_fr.c'));
  const failed = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--keymap', 'fr'], { BOOTSTATION_IPXE_BASE_IMAGE: baseImage });
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /build-ipxe: keymap "fr" is not in this iPXE source/);
  assert.match(failed.stderr, /^bootstation: the Docker build of the iPXE stage failed: .*non-zero code: 1; the build output above says why\n$/);
  assert.equal(parseManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'))?.keymap, 'de');
});
