import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findIpxeBinaries } from '../../src/ipxe/binaries.ts';
import { BUILD_SCRIPT } from '../../src/ipxe/build.ts';
import { renderEmbedScript } from '../../src/ipxe/embed-script.ts';
import { parseManifest, type IpxeManifest } from '../../src/ipxe/manifest.ts';
import { renderOverlay } from '../../src/ipxe/overlay.ts';
import { IPXE_TARGETS } from '../../src/ipxe/targets.ts';
import { freeTcpPort, freeUdpPort, runCli, startCli, waitFor } from '../support/cli.ts';
import { createStandInIpxeSource, seenFiles, standInCalls } from '../support/ipxe-stand-in-source.ts';

// scripts/build-ipxe.sh and `bootstation ipxe build --local` against a STAND-IN iPXE source tree (the
// real source cannot be downloaded here): its Makefile records how it was called and writes fake binaries.
const exec = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-build-'));
const standInSource = join(dir, 'stand-in-ipxe-source');
const standInRecord = join(dir, 'stand-in-record');
const config = join(dir, 'images.yaml');
const missingTool = await firstMissingTool();

before(async () => {
  await createStandInIpxeSource(standInSource, standInRecord);
  await writeFile(config, 'server:\n  http_port: 8080\nipxe:\n  keymap: no-latin1\n');
});
after(() => rm(dir, { recursive: true, force: true }));

// The script checks for the real build's tools before it starts, so the stand-in needs them too.
async function firstMissingTool(): Promise<string | undefined> {
  for (const tool of ['gcc', 'make', 'perl']) {
    if (!(await exec('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false))) return tool;
  }
  const lzma = await exec('sh', ['-c', "printf '#include <lzma.h>\\n' | gcc -E -x c - >/dev/null"]).then(() => true, () => false);
  return lzma ? undefined : 'liblzma-dev';
}
const needsTools = missingTool ? `${missingTool} is not installed (Debian: gcc make perl liblzma-dev)` : false;

function build(data: string, ...args: string[]): ReturnType<typeof runCli> {
  return runCli(['ipxe', 'build', '--local', '--config', config, '--data', data, ...args]);
}

async function manifestOf(data: string): Promise<IpxeManifest> {
  const manifest = parseManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
  assert.ok(manifest, 'data/ipxe/manifest.json must be a manifest bootstation wrote');
  return manifest;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

describe('bootstation ipxe build --local with a stand-in source folder', { skip: needsTools }, () => {
  const data = join(dir, 'data');

  test('runs make once per target with EMBED=, no CROSS= for x86, and the overlay for the keymap of images.yaml', async () => {
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, `the build must succeed:\n${result.stdout}${result.stderr}`);
    const calls = await standInCalls(standInRecord);
    const invocations = [...new Set(calls.map((call) => call.goals.join(' ')))];
    assert.deepEqual(invocations, ['bin/undionly.kpxe', 'bin-x86_64-efi/ipxe.efi bin-x86_64-efi/snponly.efi', 'bin-i386-efi/ipxe.efi']);
    const expectedGoals = [IPXE_TARGETS.bios, IPXE_TARGETS.efi64, IPXE_TARGETS.efi32].flatMap((target) => target.outputs.map((output) => output.make));
    assert.deepEqual(calls.map((call) => call.goal).sort(), expectedGoals.sort(), 'the script and src/ipxe/targets.ts must agree on the make goals');
    const overlay = renderOverlay();
    for (const call of calls) {
      assert.equal(call.cross, '', `${call.goal} is built with the host gcc`);
      assert.match(call.jobs, /^-j[1-9]\d*$/, `${call.goal} is built with make -jN`);
      assert.match(call.embed, /^\/.+\.ipxe$/, 'EMBED= is an absolute path');
      const seen = await seenFiles(call);
      assert.equal(seen.get('console.h'), overlay['config/local/console.h']);
      assert.match(seen.get('console.h') ?? '', /^#define KEYBOARD_MAP dynamic$/m, 'every layout is linked in');
      assert.equal(seen.get('general.h'), overlay['config/local/general.h']);
      assert.equal(seen.get('branding.h'), overlay['config/local/branding.h']);
      assert.equal(seen.get('embed.ipxe'), renderEmbedScript(8080, 'no-latin1'), 'the embedded script carries the port and the layout of the build');
    }
  });

  test('copies the outputs to data/ipxe and writes a manifest with their SHA-256', async () => {
    const files = (await readdir(join(data, 'ipxe'))).sort();
    assert.deepEqual(files, ['ipxe.efi', 'ipxe32.efi', 'manifest.json', 'snponly.efi', 'undionly.kpxe']);
    assert.match(await readFile(join(data, 'ipxe', 'ipxe32.efi'), 'utf8'), /^stand-in build of bin-i386-efi\/ipxe.efi\n#define KEYBOARD_MAP dynamic\n/);
    const manifest = await manifestOf(data);
    assert.equal(manifest.builder, 'bootstation');
    assert.equal(manifest.version, 'v2.0.0', 'the version comes from src/Makefile');
    assert.equal(manifest.commit, null, 'a folder without .git has no known commit');
    assert.equal(manifest.keymap, 'no-latin1');
    assert.equal(manifest.httpPort, 8080);
    assert.deepEqual(manifest.targets, ['bios', 'efi64', 'efi32']);
    assert.ok(manifest.features.enabled.includes('DOWNLOAD_PROTO_HTTPS'));
    assert.ok(!Number.isNaN(Date.parse(manifest.builtAt)));
    for (const output of manifest.outputs) assert.equal(output.sha256, await sha256(join(data, 'ipxe', output.file)), `the manifest's SHA-256 of ${output.file}`);
    assert.deepEqual(manifest.outputs.map((output) => output.file), ['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'ipxe32.efi']);
  });

  test('findIpxeBinaries reports the output as bootstation\'s own build', async () => {
    const found = await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'));
    assert.equal(found.ownBuild, true);
    assert.equal(found.build?.keymap, 'no-latin1');
    assert.deepEqual([...found.files.keys()], ['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi']);
  });

  test('a second run with the same inputs runs no make and leaves every binary untouched', async () => {
    const before = await Promise.all(['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi'].map(async (file) => (await stat(join(data, 'ipxe', file))).mtimeMs));
    const callsBefore = (await standInCalls(standInRecord)).length;
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await standInCalls(standInRecord)).length, callsBefore, 'no make run on unchanged inputs');
    assert.match(result.stdout, /unchanged, kept undionly\.kpxe, ipxe\.efi, snponly\.efi, ipxe32\.efi/);
    const after = await Promise.all(['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi'].map(async (file) => (await stat(join(data, 'ipxe', file))).mtimeMs));
    assert.deepEqual(after, before);
  });

  test('a binary changed on disk is rebuilt even though the inputs did not change', async () => {
    await writeFile(join(data, 'ipxe', 'ipxe32.efi'), 'replaced by hand');
    const callsBefore = (await standInCalls(standInRecord)).length;
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, result.stderr);
    const calls = (await standInCalls(standInRecord)).slice(callsBefore);
    assert.deepEqual(calls.map((call) => call.goal), ['bin-i386-efi/ipxe.efi']);
    const manifest = await manifestOf(data);
    assert.equal(manifest.outputs.find((output) => output.file === 'ipxe32.efi')?.sha256, await sha256(join(data, 'ipxe', 'ipxe32.efi')));
  });

  test('another keymap for one target rebuilds it and removes the other targets\' binaries of the old keymap', async () => {
    const callsBefore = (await standInCalls(standInRecord)).length;
    const result = await build(data, '--source', standInSource, '--keymap', 'de', '--targets', 'bios');
    assert.equal(result.code, 0, result.stderr);
    const calls = (await standInCalls(standInRecord)).slice(callsBefore);
    assert.deepEqual(calls.map((call) => call.goal), ['bin/undionly.kpxe']);
    assert.match((await seenFiles(calls[0]!)).get('embed.ipxe') ?? '', /^set keymap de$/m, 'the embedded script selects the new layout');
    assert.match(result.stdout, /removed ipxe\.efi, snponly\.efi, ipxe32\.efi/);
    assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['manifest.json', 'undionly.kpxe']);
    const manifest = await manifestOf(data);
    assert.equal(manifest.keymap, 'de');
    assert.deepEqual(manifest.targets, ['bios']);
  });
});

describe('scripts/build-ipxe.sh', { skip: needsTools }, () => {
  test('a release tarball as --source: unpacked, built, and its commit read from the pax header', async () => {
    const data = join(dir, 'data-tarball');
    const tarball = join(dir, 'stand-in-ipxe-2.0.0.tar.gz');
    const hasGit = await exec('git', ['--version']).then(() => true, () => false);
    let commit: string | null = null;
    if (hasGit) {
      // git archive writes the commit into the pax header, as GitHub's release tarballs do.
      const git = (...args: string[]): Promise<{ stdout: string }> => exec('git', ['-C', standInSource, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
      await git('init', '-q');
      await git('add', '.');
      await git('commit', '-q', '-m', 'stand-in');
      commit = (await git('rev-parse', 'HEAD')).stdout.trim();
      await git('archive', '--format=tar.gz', '--prefix=ipxe-2.0.0/', '-o', tarball, 'HEAD');
      await rm(join(standInSource, '.git'), { recursive: true, force: true });
    } else {
      await exec('tar', ['-czf', tarball, '-C', dir, '--transform', 's,^stand-in-ipxe-source,ipxe-2.0.0,', 'stand-in-ipxe-source']);
    }
    const result = await build(data, '--source', tarball, '--targets', 'efi32');
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(await readFile(join(data, 'ipxe', 'ipxe32.efi'), 'utf8'), /^stand-in build of bin-i386-efi\/ipxe.efi\n/);
    const manifest = await manifestOf(data);
    assert.equal(manifest.commit, commit);
    assert.deepEqual(manifest.outputs.map((output) => [output.file, output.sha256]), [['ipxe32.efi', await sha256(join(data, 'ipxe', 'ipxe32.efi'))]]);
  });

  test('arm64 without the cross compiler stops before building and names the package', async (t) => {
    if (await exec('sh', ['-c', 'command -v aarch64-linux-gnu-gcc']).then(() => true, () => false)) return t.skip('aarch64-linux-gnu-gcc is installed here');
    const result = await build(join(dir, 'data-arm64'), '--source', standInSource, '--targets', 'bios,arm64');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /build-ipxe: aarch64-linux-gnu-gcc is not installed, and the iPXE build needs it: on Debian, apt-get install gcc-aarch64-linux-gnu/);
  });

  test('a missing gcc is named with the Debian packages, before anything is built', async () => {
    // A PATH with make and perl but no gcc.
    const bin = join(dir, 'bin-without-gcc');
    await mkdir(bin);
    for (const tool of ['make', 'perl']) await symlink((await exec('sh', ['-c', `command -v ${tool}`])).stdout.trim(), join(bin, tool));
    const result = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', '--targets', 'bios', '--overlay', join(dir, 'no-overlay'), '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
      () => assert.fail('the script must fail without gcc'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no config\/local\/console\.h/, 'a missing overlay is reported first');
    const overlay = join(dir, 'overlay');
    for (const [path, content] of Object.entries(renderOverlay())) {
      await mkdir(join(overlay, 'config', 'local'), { recursive: true });
      await writeFile(join(overlay, path), content);
    }
    const noGcc = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', '--targets', 'bios', '--overlay', overlay, '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
      () => assert.fail('the script must fail without gcc'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(noGcc.code, 1);
    assert.equal(noGcc.stderr, 'build-ipxe: gcc is not installed, and the iPXE build needs it: on Debian, apt-get install gcc (or build through Docker: bootstation ipxe build without --local)\n');
  });

  test('a keymap the source does not ship is refused with the ones it does', async () => {
    await rm(join(standInSource, 'src', 'hci', 'keymap', 'keymap_fr.c'));
    try {
      const result = await build(join(dir, 'data-fr'), '--source', standInSource, '--keymap', 'fr', '--targets', 'bios');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /build-ipxe: keymap "fr" is not in this iPXE source \(src\/hci\/keymap\/\); use one of: al by .* us/);
    } finally {
      await writeFile(join(standInSource, 'src', 'hci', 'keymap', 'keymap_fr.c'), '');
    }
  });
});

describe('bootstation ipxe build command line', () => {
  test('without --source, the pin without a digest stops the build with how to proceed (exit 1)', async () => {
    const result = await runCli(['ipxe', 'build', '--local', '--config', config, '--data', join(dir, 'data-pin')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^bootstation: .*ipxe-src\/pin\.json has no SHA-256 for the iPXE v2\.0\.0 tarball, so it cannot be downloaded and verified: give a local copy with --source DIR\|TARBALL, or set "sha256" from the release\n$/);
  });

  test('an unknown target, keymap or subcommand is a usage error (exit 2) naming what is allowed', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['ipxe', 'build', '--targets', 'bios,ppc'], /--targets names "ppc", which is not a target; use a comma-separated list of bios,efi64,efi32,arm64/],
      [['ipxe', 'build', '--keymap', 'qwertz'], /--keymap "qwertz" is not a keyboard layout of iPXE v2\.0\.0; use one of al by/],
      [['ipxe', 'compile'], /unknown ipxe subcommand "compile"; the one there is: ipxe build/],
      [['ipxe'], /ipxe needs a subcommand: ipxe build/],
      [['ipxe', 'build', 'extra'], /unexpected argument "extra"/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli([...args, '--config', config, '--data', join(dir, 'data-usage')]);
      assert.equal(result.code, 2, `${args.join(' ')} must exit 2`);
      assert.match(result.stderr, message);
    }
  });
});

describe('bootstation serve with a build arriving while it runs', { skip: needsTools }, () => {
  test('serves the new binaries over HTTP without a restart and logs them as its own build', async () => {
    const data = join(dir, 'data-serve');
    await mkdir(join(data, 'ipxe'), { recursive: true });
    const http = await freeTcpPort();
    const server = startCli([
      'serve', '--config', config, '--data', data, '--address', '127.0.0.1', '--no-proxy-dhcp',
      '--http-port', String(http), '--tftp-port', String(await freeUdpPort()),
    ]);
    try {
      await waitFor('bootstation to serve', async () => server.output().includes('bootstation serving'));
      assert.doesNotMatch(server.output(), /own iPXE build/);
      const result = await build(data, '--source', standInSource, '--targets', 'bios');
      assert.equal(result.code, 0, result.stderr);
      const built = await readFile(join(data, 'ipxe', 'undionly.kpxe'), 'utf8');
      await waitFor('the new undionly.kpxe over HTTP', async () => {
        const response = await fetch(`http://127.0.0.1:${http}/ipxe/undionly.kpxe`);
        return response.ok && (await response.text()) === built;
      });
      const line = await waitFor('the log line about the new binaries', async () => server.output().split('\n').find((l) => l.includes("serving bootstation's own iPXE build")));
      assert.match(line, /"keymap":"no-latin1"/);
      assert.match(line, /"files":"undionly.kpxe"/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

