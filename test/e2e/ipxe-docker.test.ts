// `bootstation ipxe build` through a real Docker engine, with a STAND-IN iPXE source tree (the real
// source cannot be downloaded here). The engine is the test's own (test/support/docker-engine.ts: own
// data root, exec root, pid file and socket, stopped by pid), so the test runs wherever the Docker test
// runs and never depends on, or touches, an engine the machine may have.
//
// No registry is reachable, so the stage's base image is made locally: the Debian root from
// debootstrap (cached in /var/cache/bootstation-docker, shared with the Docker test) plus the packages
// the stage installs. The test's engines have no bridge, so the stage's own RUN steps have no network:
// its `apt-get update` fails offline and its `apt-get install` finds everything already there, which
// is how a site's offline mirror image behaves. The package list is what the stage installs: the build
// script's --packages for the targets built here, on this machine.
// Needs root, docker.io and debootstrap; skipped with the reason otherwise, and failed instead when
// CI=true (test/support/skip-policy.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BUILD_SCRIPT } from '../../src/ipxe/build.ts';
import { buildScriptTargetArgs } from '../../src/ipxe/targets.ts';
import { parseIpxeBuildManifest } from '../../src/ipxe/manifest.ts';
import { startProcess } from '../../tools/lab/processes.ts';
import { freeTcpPort, runCli } from '../support/cli.ts';
import { BASE_IMAGES, dockerSkipReason, ensureBaseImageFiles, importDebianImage, run, startDockerd, type TestDockerd } from '../support/docker-engine.ts';
import { sendBody, startHttpFixture } from '../support/http-fixture-server.ts';
import { createStandInIpxeSource, createStandInRelease, writePin } from '../support/ipxe-stand-in-source.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const skipReason = skipOrFail('ipxe-docker', await dockerSkipReason('the iPXE Docker build test'));
const baseImage = 'bootstation-test/ipxe-tools:bookworm';
const progress = (line: string): void => void process.stderr.write(`ipxe docker e2e: ${line}\n`);

/** Everything the test started, so that `after` can end it whatever failed. */
const setup: { dir: string; engine?: TestDockerd; env: NodeJS.ProcessEnv } = { dir: '', env: {} };
let failed = false;

/** The packages the stage installs to compile the targets this test builds (bios, efi64). */
async function stagePackages(): Promise<string> {
  return (await promisify(execFile)('bash', [BUILD_SCRIPT, ...buildScriptTargetArgs(['bios', 'efi64']), '--packages'])).stdout.trim();
}

describe('ipxe build in Docker (a test dockerd, a stand-in iPXE source)', { skip: skipReason }, () => {
  before(async () => {
    const started = Date.now();
    const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    try {
      setup.dir = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-docker-'));
      const files = await ensureBaseImageFiles(progress);
      progress(`base image files ${files.made ? 'made' : 'taken from the cache'} (${files.dir}) after ${seconds()}`);
      setup.engine = await startDockerd(join(setup.dir, 'engine'), (argv, log) => startProcess('dockerd-ipxe', argv, log));
      // bootstation talks to the engine through dockerode, which reads DOCKER_HOST like the docker client.
      setup.env = { DOCKER_HOST: setup.engine.env['DOCKER_HOST'], BOOTSTATION_IPXE_BASE_IMAGE: baseImage };
      await importDebianImage(setup.engine, files);
      const context = join(setup.dir, 'tools-context');
      await mkdir(context);
      await writeFile(join(context, 'Dockerfile'), `FROM ${BASE_IMAGES.debian}\nRUN apt-get update && apt-get install -y --no-install-recommends ${await stagePackages()} curl ca-certificates && rm -rf /var/lib/apt/lists/*\n`);
      // This build reaches Debian's mirror through the host's network; a mirror hiccup gets one more try.
      const build = (): Promise<string> => setup.engine!.docker(['build', '--network', 'host', '--tag', baseImage, context], { timeoutMs: 300_000 });
      await build().catch((error: Error) => {
        progress(`building ${baseImage} failed once, building again: ${error.message.split('\n').slice(-3).join(' / ')}`);
        return build();
      });
      progress(`${baseImage} built after ${seconds()}`);
    } catch (error) {
      failed = true;
      throw error;
    }
  }, { timeout: 15 * 60_000 });

  after(async () => {
    await setup.engine?.stop();
    // The engine's log lies in the folder too (startDockerd writes it beside its own folder).
    if (failed) progress(`kept ${setup.dir} and the engine's log in it`);
    else if (setup.dir) await rm(setup.dir, { recursive: true, force: true });
  });

  it('builds the ipxe stage, shows its output and copies the binaries with a manifest into data/ipxe', { timeout: 15 * 60_000 }, async () => {
    try {
      const { dir, env } = setup;
      const source = join(dir, 'stand-in-ipxe-source');
      await createStandInIpxeSource(source, join(dir, 'stand-in-record-in-the-container'));
      await writeFile(join(dir, 'images.yaml'), 'ipxe:\n  keymap: de\n');
      const data = join(dir, 'data');
      const result = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--targets', 'bios,efi64'], env);
      assert.equal(result.code, 0, `the Docker build must succeed:\n${result.stdout.slice(-4000)}${result.stderr}`);
      assert.match(result.stdout, /build-ipxe: building efi64 \(bin-x86_64-efi\/ipxe\.efi bin-x86_64-efi\/snponly\.efi\)/, 'the build output is shown');
      assert.deepEqual((await readdir(join(data, 'ipxe'))).sort(), ['ipxe.efi', 'manifest.json', 'snponly.efi', 'undionly.kpxe']);
      assert.match(await readFile(join(data, 'ipxe', 'undionly.kpxe'), 'utf8'), /^stand-in build of bin\/undionly\.kpxe\n#define KEYBOARD_MAP dynamic\n/);
      const manifest = parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
      assert.ok(manifest, 'a manifest bootstation wrote');
      assert.equal(manifest.keymap, 'de');
      assert.deepEqual(manifest.targets, ['bios', 'efi64']);
      for (const output of manifest.outputs) {
        assert.equal(output.sha256, createHash('sha256').update(await readFile(join(data, 'ipxe', output.file))).digest('hex'), `SHA-256 of ${output.file}`);
      }

      const again = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--targets', 'bios,efi64'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /Using cache/, "Docker's layer cache serves unchanged inputs");
      assert.match(again.stdout, /unchanged, kept undionly\.kpxe, ipxe\.efi, snponly\.efi/);

      // A failing RUN (the source lacks the keymap) is reported with the engine's reason, and data/ipxe stays as it was.
      await rm(join(source, 'src', 'hci', 'keymap', 'keymap_fr.c'));
      const failedBuild = await runCli(['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--source', source, '--keymap', 'fr', '--targets', 'bios,efi64'], env);
      assert.equal(failedBuild.code, 1);
      assert.match(failedBuild.stdout, /build-ipxe: keymap "fr" is not in this iPXE source/);
      assert.match(failedBuild.stderr, /^bootstation: the Docker build of the iPXE stage failed: .*non-zero code: 1; the build output above says why\n$/);
      assert.equal(parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'))?.keymap, 'de');
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('a release tarball is checked against the pin inside the stage, as on the host: the pinned one builds, another commit is refused', { timeout: 10 * 60_000 }, async () => {
    try {
      const { dir, env } = setup;
      const source = join(dir, 'stand-in-for-release');
      await createStandInIpxeSource(source, join(dir, 'stand-in-record-release'));
      const release = await createStandInRelease(source, join(dir, 'release'), 'ipxe-2.0.0');
      const other = await createStandInRelease(source, join(dir, 'other'), 'ipxe-2.0.0', { message: 'not the pinned commit' });
      const pin = join(dir, 'pin.json');
      await writePin(pin, { commit: release.commit, url: 'https://mirror.invalid/ipxe-2.0.0.tar.gz', tarSha256: release.tarSha256 });
      const data = join(dir, 'data-release');
      const args = ['ipxe', 'build', '--config', join(dir, 'images.yaml'), '--data', data, '--pin', pin, '--targets', 'bios'];
      const built = await runCli([...args, '--source', release.xz], env);
      assert.equal(built.code, 0, `${built.stdout.slice(-4000)}${built.stderr}`);
      assert.match(built.stdout, /build-ipxe: ipxe-2\.0\.0\.tar\.xz is iPXE v2\.0\.0 as \/build\/ipxe-src\/pin\.json pins it/);
      const manifest = parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'));
      assert.equal(manifest?.commit, release.commit, 'the commit comes from the pax header');
      assert.equal(manifest?.version, 'v2.0.0');

      const refused = await runCli([...args, '--source', other.gzip], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, new RegExp(`build-ipxe: ipxe-2\\.0\\.0\\.tar\\.gz is not iPXE v2\\.0\\.0 as /build/ipxe-src/pin\\.json pins it: its tar header names commit ${other.commit}, the pin names ${release.commit}`));
      assert.equal(parseIpxeBuildManifest(await readFile(join(data, 'ipxe', 'manifest.json'), 'utf8'))?.commit, release.commit, 'data/ipxe stays as it was');
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it("the project Dockerfile's default path downloads from IPXE_MIRROR, checks the copy against the pin and compiles; an unreachable mirror is one sentence", { timeout: 10 * 60_000 }, async () => {
    let mirrored: Buffer | undefined;
    const server = await startHttpFixture((request, response) => void (mirrored ? sendBody(request, response, mirrored) : response.writeHead(404).end()));
    try {
      const { dir, engine } = setup;
      assert.ok(engine);
      const source = join(dir, 'stand-in-for-mirror');
      await createStandInIpxeSource(source, '/tmp/stand-in-record-in-the-ipxe-stage');
      const release = await createStandInRelease(source, join(dir, 'mirror-release'), 'ipxe-2.0.0');
      mirrored = await readFile(release.xz);
      // The checkout's files the ipxe stage uses, with a pin naming the stand-in; the pin's own URL leads nowhere,
      // so only the mirror can serve it.
      const context = join(dir, 'project-context');
      await mkdir(join(context, 'scripts'), { recursive: true });
      for (const path of ['Dockerfile', '.dockerignore', 'scripts/build-ipxe.sh', 'ipxe-src']) await run(['cp', '-a', join(REPO, path), join(context, path)]);
      await rm(join(context, 'ipxe-src', 'source'), { recursive: true, force: true });
      await writePin(join(context, 'ipxe-src', 'pin.json'), { commit: release.commit, url: 'https://mirror.invalid/ipxe-2.0.0.tar.gz', tarSha256: release.tarSha256 });
      // --network host: the stage's curl reaches the mirror on this machine's 127.0.0.1.
      const build = (mirror: string): Promise<string> =>
        engine.docker(['build', '--network', 'host', '--target', 'ipxe', '--build-arg', `DEBIAN_IMAGE=${baseImage}`, '--build-arg', 'TARGETS=bios', '--build-arg', `IPXE_MIRROR=${mirror}`, context], { timeoutMs: 300_000 });
      const output = await build(server.url('/ipxe-2.0.0.tar.xz'));
      assert.match(output, /build-ipxe: ipxe-release is iPXE v2\.0\.0 as \/build\/ipxe-src\/pin\.json pins it/);
      assert.match(output, /build-ipxe: iPXE v2\.0\.0 with keymap us: bios in \/out/);

      const port = await freeTcpPort();
      const unreachable = await build(`http://127.0.0.1:${port}/ipxe-2.0.0.tar.gz`).then(
        () => assert.fail('a build from an unreachable mirror must fail'),
        (error: Error) => error.message,
      );
      assert.match(unreachable, new RegExp(`build-ipxe: the iPXE source could not be downloaded from http://127\\.0\\.0\\.1:${port}/ipxe-2\\.0\\.0\\.tar\\.gz \\(curl says why above\\); set IPXE_MIRROR to a copy this build can reach, or put the release tarball under ipxe-src/source/ and name it with IPXE_SOURCE`));
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await server.close();
    }
  });
});
