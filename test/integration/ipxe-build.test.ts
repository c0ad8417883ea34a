import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findIpxeBinaries, SEEDED_MARKER, STOCK_MARKER } from '../../src/ipxe/binaries.ts';
import { BUILD_SCRIPT } from '../../src/ipxe/build.ts';
import { buildScriptTargetArgs } from '../../src/ipxe/targets.ts';
import { renderEmbedScript } from '../../src/ipxe/embed-script.ts';
import { parseIpxeBuildManifest, type IpxeBuildManifest } from '../../src/ipxe/manifest.ts';
import { renderOverlay } from '../../src/ipxe/overlay.ts';
import { PLATFORMS } from '../../src/boot/platform.ts';
import { freeTcpPort, freeUdpPort, runCli, startCli, waitFor } from '../support/cli.ts';
import { createStandInIpxeSource, seenFiles, standInCalls } from '../support/ipxe-stand-in-source.ts';
import { skipOrFail } from '../support/skip-policy.ts';

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
const needsTools = skipOrFail('ipxe-build', missingTool ? `${missingTool} is not installed (Debian: gcc make perl liblzma-dev)` : undefined);

function build(data: string, ...args: string[]): ReturnType<typeof runCli> {
  return runCli(['ipxe', 'build', '--local', '--config', config, '--data', data, ...args]);
}

async function manifestOf(data: string): Promise<IpxeBuildManifest> {
  const manifest = parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
  assert.ok(manifest, 'data/ipxe/manifest.json must be a manifest bootstation wrote');
  return manifest;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

describe('bootstation ipxe build --local with a stand-in source folder', { skip: needsTools }, () => {
  const data = join(dir, 'data');

  test('runs make once per target (all four by default) with EMBED=, CROSS= only for arm64 on x86, and the overlay of the build', async () => {
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, `the build must succeed:\n${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stdout, /warning|stock/, 'a full build into an empty folder warns of nothing and removes nothing stock');
    const calls = await standInCalls(standInRecord);
    const invocations = [...new Set(calls.map((call) => call.goals.join(' ')))];
    assert.deepEqual(invocations, ['bin/undionly.kpxe', 'bin-x86_64-efi/ipxe.efi bin-x86_64-efi/snponly.efi', 'bin-i386-efi/ipxe.efi', 'bin-arm64-efi/snp.efi']);
    const expectedGoals = PLATFORMS.flatMap((platform) => platform.build.outputs.map((output) => output.make));
    assert.deepEqual(calls.map((call) => call.goal).sort(), expectedGoals.sort(), 'the script builds the make goals of src/boot/platform.ts');
    const overlay = renderOverlay();
    for (const call of calls) {
      const expectedCross = process.arch === 'x64' ? (call.goal.startsWith('bin-arm64-efi/') ? 'aarch64-linux-gnu-' : '') : call.cross;
      assert.equal(call.cross, expectedCross, `${call.goal}: CROSS= on an x86 machine`);
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
    assert.deepEqual(files, ['ipxe.efi', 'ipxe32.efi', 'manifest.json', 'snp-arm64.efi', 'snponly.efi', 'undionly.kpxe']);
    assert.match(await readFile(join(data, 'ipxe', 'ipxe32.efi'), 'utf8'), /^stand-in build of bin-i386-efi\/ipxe.efi\n#define KEYBOARD_MAP dynamic\n/);
    const manifest = await manifestOf(data);
    assert.equal(manifest.builder, 'bootstation');
    assert.equal(manifest.version, 'v2.0.0', "the version comes from src/Makefile's plain numbers (assigned with :=), not the git describe lines");
    assert.equal(manifest.commit, null, 'a folder without .git has no known commit');
    assert.equal(manifest.keymap, 'no-latin1');
    assert.equal(manifest.httpPort, 8080);
    assert.deepEqual(manifest.targets, ['bios', 'efi64', 'efi32', 'arm64']);
    assert.ok(manifest.features.enabled.includes('DOWNLOAD_PROTO_HTTPS'));
    assert.ok(!Number.isNaN(Date.parse(manifest.builtAt)));
    for (const output of manifest.outputs) assert.equal(output.sha256, await sha256(join(data, 'ipxe', output.file)), `the manifest's SHA-256 of ${output.file}`);
    assert.deepEqual(manifest.outputs.map((output) => output.file), ['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'ipxe32.efi', 'snp-arm64.efi']);
  });

  test('findIpxeBinaries reports the output as bootstation\'s own build', async () => {
    const found = await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'));
    assert.equal(found.kind, 'own-build');
    assert.equal(found.kind === 'own-build' && found.build.keymap, 'no-latin1');
    assert.deepEqual([...found.files.keys()], ['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi', 'snp-arm64.efi']);
  });

  test('a second run with the same inputs runs no make and leaves every binary untouched', async () => {
    const before = await Promise.all(['undionly.kpxe', 'ipxe.efi', 'ipxe32.efi'].map(async (file) => (await stat(join(data, 'ipxe', file))).mtimeMs));
    const callsBefore = (await standInCalls(standInRecord)).length;
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await standInCalls(standInRecord)).length, callsBefore, 'no make run on unchanged inputs');
    assert.match(result.stdout, /unchanged, kept undionly\.kpxe, ipxe\.efi, snponly\.efi, ipxe32\.efi, snp-arm64\.efi/);
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
    assert.match(result.stdout, /removed ipxe\.efi, snponly\.efi, ipxe32\.efi, snp-arm64\.efi/);
    assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['manifest.json', 'undionly.kpxe']);
    const manifest = await manifestOf(data);
    assert.equal(manifest.keymap, 'de');
    assert.deepEqual(manifest.targets, ['bios']);
  });
});

describe("bootstation ipxe build over Debian's stock binaries (an image built with IPXE_SOURCE=stock)", { skip: needsTools }, () => {
  // What the container's first start leaves in data/ipxe for IPXE_SOURCE=stock (src/appliance/first-start.ts):
  // the three files the Dockerfile copies from /usr/lib/ipxe, the stock marker, and the marker saying the image
  // filled the folder (which a newer image would refresh: after a build it must be gone, or the build is lost).
  const STOCK_FILES = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'];
  async function stockDataDir(name: string): Promise<string> {
    const data = join(dir, name);
    await mkdir(join(data, 'ipxe'), { recursive: true });
    for (const file of STOCK_FILES) await writeFile(join(data, 'ipxe', file), `Debian stock ${file}\n`);
    await writeFile(join(data, 'ipxe', STOCK_MARKER), "Debian's stock iPXE binaries, copied from an image built with IPXE_SOURCE=stock.\n");
    await writeFile(join(data, 'ipxe', SEEDED_MARKER), `${'0'.repeat(64)}\n`);
    assert.equal((await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'))).kind, 'stock', 'the folder starts as stock');
    return data;
  }

  test('a partial build removes the stock binaries it did not build and the marker, and then counts as bootstation\'s own build', async () => {
    const data = await stockDataDir('data-stock-partial');
    const result = await build(data, '--source', standInSource, '--targets', 'bios,efi32');
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /^bootstation: removed Debian's stock ipxe\.efi, snponly\.efi \(an image built with IPXE_SOURCE=stock put them there\): this build did not replace them/m);
    assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['ipxe32.efi', 'manifest.json', 'undionly.kpxe'], 'both markers and the stock ipxe.efi and snponly.efi are gone');
    assert.match(await readFile(join(data, 'ipxe', 'undionly.kpxe'), 'utf8'), /^stand-in build of bin\/undionly\.kpxe\n/, 'the stock undionly.kpxe was replaced by the build');
    const found = await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'));
    assert.equal(found.kind, 'own-build', 'after the build, data/ipxe is bootstation\'s own build, not stock');
    assert.deepEqual([...found.files.keys()], ['undionly.kpxe', 'ipxe32.efi']);
    assert.match(result.stdout, /^bootstation: warning: x64 UEFI clients get no answer: ipxe\.efi is not in .*; run `bootstation ipxe build --targets efi64`$/m, 'the removed stock ipxe.efi leaves x64 UEFI without a first stage');
  });

  test('a full build replaces every stock binary, says so, and removes the marker', async () => {
    const data = await stockDataDir('data-stock-full');
    const result = await build(data, '--source', standInSource);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /^bootstation: replaced Debian's stock iPXE binaries/m);
    assert.doesNotMatch(result.stdout, /removed|warning/);
    assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['ipxe.efi', 'ipxe32.efi', 'manifest.json', 'snp-arm64.efi', 'snponly.efi', 'undionly.kpxe']);
    for (const file of STOCK_FILES) assert.match(await readFile(join(data, 'ipxe', file), 'utf8'), /^stand-in build of /, `${file} is the build's`);
    assert.equal((await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'))).kind, 'own-build');
  });
});

describe('bootstation ipxe build of some targets', { skip: needsTools }, () => {
  const data = join(dir, 'data-partial');

  test('warns when BIOS or x64 UEFI is left without a first stage, naming each platform and the command that adds it', async () => {
    const result = await build(data, '--source', standInSource, '--targets', 'arm64');
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const warnings = result.stdout.split('\n').filter((line) => line.startsWith('bootstation: warning:'));
    assert.deepEqual(warnings, [
      `bootstation: warning: BIOS clients get no answer: undionly.kpxe is not in ${join(data, 'ipxe')}; run \`bootstation ipxe build --targets bios\``,
      `bootstation: warning: x64 UEFI clients get no answer: ipxe.efi is not in ${join(data, 'ipxe')}; run \`bootstation ipxe build --targets efi64\``,
    ], 'one warning per required platform (32-bit UEFI is optional, as in the doctor)');
  });

  test('the commands it names add the missing platforms, and the warning goes', async () => {
    const result = await build(data, '--source', standInSource, '--targets', 'bios,efi64');
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stdout, /warning/);
    const found = await findIpxeBinaries(join(data, 'ipxe'), join(dir, 'no-stock'));
    assert.deepEqual([...found.files.keys()], ['undionly.kpxe', 'ipxe.efi', 'snp-arm64.efi'], 'the arm64 binary of the same build is kept');
  });
});

describe('scripts/build-ipxe.sh', { skip: needsTools }, () => {
  // A PATH of shims in front of the real one: `uname` answers what a shim says, and fake cross compilers
  // (never run by the stand-in Makefile) satisfy the script's check, so a machine's role can be played here.
  async function shimPath(name: string, shims: Record<string, string>): Promise<string> {
    const bin = join(dir, name);
    await mkdir(bin, { recursive: true });
    for (const [tool, script] of Object.entries(shims)) await writeFile(join(bin, tool), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return bin;
  }

  test('arm64 without the cross compiler stops before building and names the package', async () => {
    // The real tools through symlinks, but no aarch64-linux-gnu-gcc.
    const bin = join(dir, 'bin-without-cross');
    await mkdir(bin);
    for (const tool of ['make', 'perl', 'gcc', 'uname', 'nproc']) await symlink((await exec('sh', ['-c', `command -v ${tool}`])).stdout.trim(), join(bin, tool));
    const result = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', ...buildScriptTargetArgs(['bios', 'arm64']), '--overlay', join(dir, 'no-overlay'), '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
      () => assert.fail('the script must fail without the cross compiler'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no config\/local\/console\.h/, 'a missing overlay is reported first');
    const overlay = join(dir, 'overlay-cross');
    for (const [path, content] of Object.entries(renderOverlay())) {
      await mkdir(join(overlay, 'config', 'local'), { recursive: true });
      await writeFile(join(overlay, path), content);
    }
    const noCross = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', ...buildScriptTargetArgs(['bios', 'arm64']), '--overlay', overlay, '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
      () => assert.fail('the script must fail without the cross compiler'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(noCross.code, 1);
    assert.equal(
      noCross.stderr,
      'build-ipxe: aarch64-linux-gnu-gcc is not installed, and the iPXE build needs it: on Debian, apt-get install gcc-aarch64-linux-gnu (or leave arm64 out of --targets, or build through Docker: bootstation ipxe build without --local)\n',
    );
  });

  test('on an arm64 machine the x86 targets are cross-compiled and arm64 is not; --packages names the compilers', async () => {
    const cross = await shimPath('bin-arm64-host', { uname: 'echo aarch64', 'x86_64-linux-gnu-gcc': 'exit 0', 'i686-linux-gnu-gcc': 'exit 0' });
    const env = { ...process.env, PATH: `${cross}:${process.env['PATH']}` };
    const packages = await exec('/bin/bash', [BUILD_SCRIPT, ...buildScriptTargetArgs(), '--packages', '--targets', 'bios,efi64,efi32,arm64'], { env });
    assert.equal(packages.stdout, 'gcc libc6-dev make perl liblzma-dev xz-utils git gcc-i686-linux-gnu gcc-x86-64-linux-gnu\n');
    const onX86 = await exec('/bin/bash', [BUILD_SCRIPT, ...buildScriptTargetArgs(), '--packages', '--targets', 'bios,efi64,efi32,arm64'], { env: { ...process.env, PATH: `${await shimPath('bin-x86-host', { uname: 'echo x86_64' })}:${process.env['PATH']}` } });
    assert.equal(onX86.stdout, 'gcc libc6-dev make perl liblzma-dev xz-utils git gcc-aarch64-linux-gnu\n');

    const callsBefore = (await standInCalls(standInRecord)).length;
    const result = await runCli(['ipxe', 'build', '--local', '--config', config, '--data', join(dir, 'data-arm64-host'), '--source', standInSource], env);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const calls = (await standInCalls(standInRecord)).slice(callsBefore);
    assert.deepEqual(Object.fromEntries(calls.map((call) => [call.goal, call.cross])), {
      'bin/undionly.kpxe': 'i686-linux-gnu-',
      'bin-x86_64-efi/ipxe.efi': 'x86_64-linux-gnu-',
      'bin-x86_64-efi/snponly.efi': 'x86_64-linux-gnu-',
      'bin-i386-efi/ipxe.efi': 'i686-linux-gnu-',
      'bin-arm64-efi/snp.efi': '',
    });
  });

  test('a missing gcc is named with the Debian packages, before anything is built', async () => {
    // A PATH with make and perl but no gcc.
    const bin = join(dir, 'bin-without-gcc');
    await mkdir(bin);
    for (const tool of ['make', 'perl']) await symlink((await exec('sh', ['-c', `command -v ${tool}`])).stdout.trim(), join(bin, tool));
    const result = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', ...buildScriptTargetArgs(['bios']), '--overlay', join(dir, 'no-overlay'), '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
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
    const noGcc = await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'us', ...buildScriptTargetArgs(['bios']), '--overlay', overlay, '--embed', config, '--out', join(dir, 'out')], { env: { PATH: bin } }).then(
      () => assert.fail('the script must fail without gcc'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(noGcc.code, 1);
    assert.equal(noGcc.stderr, 'build-ipxe: gcc is not installed, and the iPXE build needs it: on Debian, apt-get install gcc (or build through Docker: bootstation ipxe build without --local)\n');
  });

  test('--keymap sets the embedded script\'s `set keymap` line, as the Docker stage\'s KEYMAP does to the committed embed.ipxe', async () => {
    const overlay = join(dir, 'overlay-keymap');
    for (const [path, content] of Object.entries(renderOverlay())) {
      await mkdir(join(overlay, 'config', 'local'), { recursive: true });
      await writeFile(join(overlay, path), content);
    }
    const embed = join(dir, 'embed-us.ipxe');
    await writeFile(embed, renderEmbedScript(80, 'us'));
    const callsBefore = (await standInCalls(standInRecord)).length;
    await exec('/bin/bash', [BUILD_SCRIPT, '--source', standInSource, '--keymap', 'fr', ...buildScriptTargetArgs(['bios']), '--overlay', overlay, '--embed', embed, '--out', join(dir, 'out-keymap')]);
    const [call] = (await standInCalls(standInRecord)).slice(callsBefore);
    assert.ok(call, 'make ran');
    const seen = await seenFiles(call);
    assert.equal(seen.get('embed.ipxe'), renderEmbedScript(80, 'fr'), 'the embedded script selects fr first');
    assert.equal(seen.get('console.h'), renderOverlay()['config/local/console.h'], 'the overlay is applied as rendered: every layout linked in');
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

