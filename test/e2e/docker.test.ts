// The appliance as users run it: the repository's Dockerfile built by a real Docker engine, started with
// the repository's compose.yaml by docker-compose inside the lab's NAS namespace (so `network_mode: host`
// is the lab network), and BIOS and UEFI VMs netbooting through the container.
//
// No registry is reachable here, so the base images are made locally (test/support/docker-engine.ts,
// cached in /var/cache/bootstation-docker) and passed as NODE_IMAGE / DEBIAN_IMAGE; the image is built
// by a dockerd in the root namespace (its builds reach the Debian and npm registries), then moved with
// `docker save | docker load` into a second dockerd in the NAS namespace.
//
// iPXE is compiled on the image's default path, the way an air-gapped site builds it: the release tarball
// under ipxe-src/source/ of the build context, named with IPXE_SOURCE, checked against ipxe-src/pin.json by
// the ipxe stage before it compiles. The real release cannot be downloaded here, so the context is a copy
// of the checkout holding a STAND-IN release (git archive of the stand-in tree) and a pin naming it, as a
// site pinning its own release would write. Stand-in binaries cannot boot a machine, so before the VMs
// boot, data/ipxe is given Debian's iPXE binaries as the user's own build (which first start keeps).
// Both engines are this test's own (data root, exec root, pid file and socket under a temporary folder)
// and are stopped by pid. Needs root, docker.io, docker-compose, debootstrap and the lab's packages;
// skipped with the reason otherwise, and failed instead when CI=true (test/support/skip-policy.ts).
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeBoot } from '../../tools/lab/diagnostics.ts';
import { LAB_IMAGE_ARGS, LAB_IMAGE_ID, LAB_PAYLOAD_FILE, prepareLabImage, renderLabConfig } from '../../tools/lab/lab-image.ts';
import { startLab, waitForSerial, type Lab } from '../../tools/lab/lab.ts';
import { labSkipReason } from '../../tools/lab/preflight.ts';
import { startProcess, tailFile } from '../../tools/lab/processes.ts';
import { cleanSerialText, furthestBootStep } from '../../tools/lab/serial-report.ts';
import { ensureTestKernel } from '../../tools/lab/test-kernel.ts';
import type { LabFirmware } from '../../tools/lab/topology.ts';
import { parseIpxeBuildManifest } from '../../src/ipxe/manifest.ts';
import { BASE_IMAGES, copyImage, dockerSkipReason, ensureBaseImageFiles, loadBaseImages, run, startDockerd, type TestDockerd } from '../support/docker-engine.ts';
import { createStandInIpxeSource, createStandInRelease, writePin, type StandInRelease } from '../support/ipxe-stand-in-source.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = join(REPO, 'compose.yaml');
const IMAGE = 'bootstation:latest';
const CONTAINER = 'bootstation';
const PROJECT = 'bsdocker';
const NAS = '10.77.0.2';
const HTTP_PORT = 8080;
// The image's user (Dockerfile: useradd --uid 10001), who must own the bind-mounted folders.
const APP_UID = 10001;
const BASE_URL = `http://${NAS}:${HTTP_PORT}/images/${LAB_IMAGE_ID}/`;
// Measured on 2 cores: a cold build (apt-get with the compilers, npm ci, tsc) ≈ 5 min; the VMs as in netboot.test.ts.
const BUILD_TIMEOUT_MS = 900_000;
// What the build context holds (.dockerignore admits only these), copied from the checkout.
const CONTEXT_PATHS = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts/build-ipxe.sh', 'ipxe-src'];
// Debian's iPXE binaries (the ipxe package), which the VMs boot.
const DEBIAN_IPXE = '/usr/lib/ipxe';
const HEALTHY_TIMEOUT_MS = 90_000;
const BOOT_TIMEOUT_MS = 240_000;

const skipReason = skipOrFail('docker', (await dockerSkipReason('the Docker test', [['docker-compose', 'docker-compose'], ['nsenter', 'util-linux'], ['git', 'git']])) ?? (await labSkipReason()));

/** Everything the test started, so that `after` can end it whatever failed. */
interface Setup {
  workDir: string;
  buildLog: string;
  builder?: TestDockerd;
  nas?: TestDockerd;
  lab?: Lab;
  projectDir: string;
  payloadSha256?: string;
  release?: StandInRelease;
}

const setup: Setup = { workDir: '', buildLog: '', projectDir: '' };
let failed = false;
const progress = (line: string): void => void process.stderr.write(`docker e2e: ${line}\n`);

/** docker-compose with the repository's compose.yaml, the test's project folder and the NAS engine. */
function compose(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  assert.ok(setup.nas, 'the NAS engine runs');
  return run(['docker-compose', '--project-directory', setup.projectDir, '--project-name', PROJECT, '--file', COMPOSE_FILE, ...args], {
    cwd: setup.projectDir,
    timeoutMs,
    env: {
      ...setup.nas.env,
      // compose.yaml's environment section takes these from the caller's environment.
      BOOTSTATION_INTERFACE: 'eth0',
      BOOTSTATION_ADDRESS: NAS,
      BOOTSTATION_HTTP_PORT: String(HTTP_PORT),
      BOOTSTATION_LOG_LEVEL: 'info',
    },
  });
}

async function containerLogs(): Promise<string> {
  return setup.nas ? setup.nas.docker(['logs', CONTAINER]).then((out) => out, (error: Error) => error.message) : '(no NAS engine)';
}

/** What a failure prints: the engines' logs, the build log and the container's log. */
async function story(): Promise<string> {
  const parts = [`--- image build log, last 30 lines (${setup.buildLog})`, await tailFile(setup.buildLog, 30)];
  for (const [name, engine] of [['build', setup.builder], ['NAS', setup.nas]] as const) {
    if (engine) parts.push(`--- dockerd (${name}) log, last 15 lines (${engine.logFile})`, await tailFile(engine.logFile, 15));
  }
  parts.push('--- container log, last 25 lines', (await containerLogs()).split('\n').slice(-25).join('\n'));
  return parts.join('\n');
}

async function inspect(format: string): Promise<string> {
  assert.ok(setup.nas);
  return (await setup.nas.docker(['inspect', '--format', format, CONTAINER])).trim();
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs / 1000} s\n${await story()}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function bootVm(t: TestContext, firmware: LabFirmware): Promise<void> {
  const { lab } = setup;
  assert.ok(lab);
  const vm = await lab.startVm(firmware);
  const wait = await waitForSerial(vm, (report) => report.done, BOOT_TIMEOUT_MS);
  // describeBoot shows lab.bootstationLog; here bootstation's log is the container's.
  await writeFile(lab.bootstationLog, await containerLogs());
  const boot = await describeBoot(lab, vm, wait);
  t.diagnostic(`${firmware}: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s, furthest step ${furthestBootStep(wait.serial) ?? 'none'}`);
  assert.ok(wait.report.marker, `the ${firmware} VM did not reach the test initrd through the container\n${boot}`);
  const expectedArgs = LAB_IMAGE_ARGS.replace('${base-url}', BASE_URL);
  assert.ok(wait.report.cmdline?.endsWith(` ${expectedArgs}`), `${firmware}: the kernel command line should end with\n  ${expectedArgs}\nbut is\n  ${wait.report.cmdline}\n${boot}`);
  assert.deepEqual(wait.report.netboot, { ok: true, sha256: setup.payloadSha256, url: `${BASE_URL}${LAB_PAYLOAD_FILE}` }, `${firmware}: netboot= fetch\n${boot}`);
  if (firmware === 'efi') assert.match(cleanSerialText(wait.serial), /NBP filename is ipxe\.efi/, `efi: EDK2 should be offered ipxe.efi\n${boot}`);
}

/**
 * The build context as an air-gapped site prepares it: the checkout's files, the release tarball under
 * ipxe-src/source/, and (since this release is a stand-in) a pin naming it. The repository is not touched.
 */
async function prepareContext(): Promise<string> {
  const context = join(setup.workDir, 'context');
  await mkdir(join(context, 'scripts'), { recursive: true });
  for (const path of CONTEXT_PATHS) await run(['cp', '-a', join(REPO, path), join(context, path)]);
  await rm(join(context, 'ipxe-src', 'source'), { recursive: true, force: true });
  const source = join(setup.workDir, 'stand-in-ipxe-source');
  await createStandInIpxeSource(source, '/tmp/stand-in-record-in-the-ipxe-stage');
  setup.release = await createStandInRelease(source, join(setup.workDir, 'release'), 'ipxe-2.0.0');
  await mkdir(join(context, 'ipxe-src', 'source'), { recursive: true });
  await run(['cp', setup.release.gzip, join(context, 'ipxe-src', 'source', 'ipxe-2.0.0.tar.gz')]);
  await writePin(join(context, 'ipxe-src', 'pin.json'), { commit: setup.release.commit, url: 'https://mirror.invalid/ipxe-2.0.0.tar.gz', tarSha256: setup.release.tarSha256 });
  return context;
}

describe('docker appliance: the image built from the Dockerfile, run by compose.yaml, boots VMs', { skip: skipReason }, () => {
  before(async () => {
    const started = Date.now();
    const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    try {
      setup.workDir = await mkdtemp(join(tmpdir(), 'bootstation-docker-'));
      setup.buildLog = join(setup.workDir, 'image-build.log');
      setup.projectDir = join(setup.workDir, 'project');
      const files = await ensureBaseImageFiles(progress);
      progress(`base image files ${files.made ? 'made' : 'taken from the cache'} (${files.dir}) after ${seconds()}`);
      setup.builder = await startDockerd(join(setup.workDir, 'engine-build'), (argv, log) => startProcess('dockerd-build', argv, log));
      await loadBaseImages(setup.builder, files, setup.workDir);
      progress(`base images loaded after ${seconds()}`);
      const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
      const context = await prepareContext();
      // KEYMAP and TARGETS stay at the Dockerfile's defaults (us; bios, efi64, efi32, arm64), as `docker compose up` builds.
      const buildArgs = { NODE_IMAGE: BASE_IMAGES.node, DEBIAN_IMAGE: BASE_IMAGES.debian, IPXE_SOURCE: 'ipxe-2.0.0.tar.gz', VERSION: version };
      // The build containers use the host's network: the test's engines have no bridge (see startDockerd).
      const build = (): Promise<string> =>
        setup.builder!.docker(['build', '--network', 'host', '--tag', IMAGE, ...Object.entries(buildArgs).flatMap(([key, value]) => ['--build-arg', `${key}=${value}`]), context], { timeoutMs: BUILD_TIMEOUT_MS / 2 });
      // apt-get and npm ci fetch from the internet; one failed fetch gets a second build (layers done stay cached).
      const output = await build()
        .catch((error: Error) => {
          progress(`docker build failed once, building again: ${error.message.split('\n').slice(-3).join(' / ')}`);
          return build();
        })
        .catch(async (error: Error) => {
          await writeFile(setup.buildLog, error.message);
          throw new Error(`docker build of the repository's Dockerfile failed\n${await story()}`);
        });
      await writeFile(setup.buildLog, output);
      progress(`image built after ${seconds()}`);
      assert.match(output, /build-ipxe: ipxe-2\.0\.0\.tar\.gz is iPXE v2\.0\.0 as \/build\/ipxe-src\/pin\.json pins it/, 'the ipxe stage checked the tarball against the pin');
      assert.match(output, /build-ipxe: building arm64 \(bin-arm64-efi\/snp\.efi\)/, 'arm64 is a default target');

      const kernel = await ensureTestKernel();
      const labDir = join(setup.workDir, 'lab');
      await mkdir(labDir, { recursive: true });
      setup.lab = await startLab({ prefix: 'bsdock', workDir: labDir });
      const lab = setup.lab;
      setup.nas = await startDockerd(join(setup.workDir, 'engine-nas'), (argv) => lab.startIn('nas', 'dockerd-nas', argv, 'network-only'));
      await copyImage(setup.builder, setup.nas, IMAGE);
      progress(`image moved into the NAS namespace's engine after ${seconds()}`);

      // The project folder as README says to prepare it: config/ and data/ owned by the image's user. The lab
      // image goes into the data volume, where the container sees it as /data/lab-image.
      for (const folder of ['config', 'data']) await mkdir(join(setup.projectDir, folder), { recursive: true });
      const image = await prepareLabImage(join(setup.projectDir, 'data', 'lab-image'), kernel);
      setup.payloadSha256 = image.payloadSha256;
      await run(['chown', '-R', `${APP_UID}:${APP_UID}`, join(setup.projectDir, 'config'), join(setup.projectDir, 'data')]);
    } catch (error) {
      failed = true;
      throw error;
    }
  }, { timeout: BUILD_TIMEOUT_MS + 300_000 });

  after(async () => {
    // Containers first (their processes live in the NAS namespace), then the engines by pid, then the lab.
    if (setup.nas) await compose(['down', '--timeout', '5']).catch((error: Error) => progress(`docker-compose down: ${error.message}`));
    await setup.nas?.stop();
    await setup.builder?.stop();
    await setup.lab?.close();
    if (failed) progress(`kept the logs and serial consoles in ${setup.workDir}`);
    else if (setup.workDir) await rm(setup.workDir, { recursive: true, force: true });
  });

  it('docker-compose accepts compose.yaml: host network, NET_BIND_SERVICE only, both volumes, the environment', async () => {
    try {
      const config = await compose(['config']);
      assert.match(config, /network_mode: host/);
      assert.match(config, /cap_drop:\n\s+- ALL/);
      assert.match(config, /cap_add:\n\s+- NET_BIND_SERVICE/);
      assert.match(config, /restart: unless-stopped/);
      assert.match(config, /BOOTSTATION_HTTP_PORT: '8080'/);
      assert.match(config, /BOOTSTATION_PROXY_DHCP: ''/, 'an option the caller leaves unset stays empty, which serve reads as unset');
      for (const volume of ['config', 'data']) assert.ok(config.includes(`- ${join(setup.projectDir, volume)}:/${volume}:rw`), `the ${volume} volume is the project's ./${volume}:\n${config}`);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('first start: a starter images.yaml and the image’s iPXE binaries appear, it runs as non-root with only NET_BIND_SERVICE and turns healthy', { timeout: HEALTHY_TIMEOUT_MS + 120_000 }, async (t) => {
    try {
      await compose(['up', '--detach', '--no-build'], 180_000);
      await waitUntil('the container turned healthy', async () => (await inspect('{{.State.Health.Status}}')) === 'healthy', HEALTHY_TIMEOUT_MS);
      t.diagnostic(`health: ${await inspect('{{(index .State.Health.Log 0).Output}}')}`);
      const starter = await readFile(join(setup.projectDir, 'config', 'images.yaml'), 'utf8');
      assert.match(starter, /^# bootstation configuration, written on the container's first start/);
      const ipxe = await readdir(join(setup.projectDir, 'data', 'ipxe'));
      for (const file of ['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'ipxe32.efi', 'snp-arm64.efi', 'manifest.json', '.from-image']) {
        assert.ok(ipxe.includes(file), `data/ipxe should hold ${file}, holds ${ipxe.join(', ')}`);
      }
      // The image's iPXE was compiled from the stand-in release: its manifest names the pinned version and the
      // commit from the tarball's pax header, and the binaries carry the stand-in's marks.
      const manifest = parseIpxeBuildManifest(await readFile(join(setup.projectDir, 'data', 'ipxe', 'manifest.json'), 'utf8'));
      assert.ok(manifest, 'data/ipxe/manifest.json is a manifest bootstation wrote');
      assert.equal(manifest.version, 'v2.0.0');
      assert.equal(manifest.commit, setup.release?.commit);
      assert.deepEqual(manifest.targets, ['bios', 'efi64', 'efi32', 'arm64']);
      assert.match(await readFile(join(setup.projectDir, 'data', 'ipxe', 'undionly.kpxe'), 'utf8'), /^stand-in build of bin\/undionly\.kpxe\n/);
      assert.equal(await inspect('{{.Config.User}}'), 'bootstation');
      assert.equal((await setup.nas!.docker(['exec', CONTAINER, 'id', '-u'])).trim(), String(APP_UID));
      // /proc/1/status of the server: CapEff 0x400 is CAP_NET_BIND_SERVICE (bit 10) and nothing else.
      const status = await setup.nas!.docker(['exec', CONTAINER, 'cat', '/proc/1/status']);
      assert.match(status, /^Uid:\s+10001\s/m);
      assert.match(status, /^CapEff:\s+0000000000000400$/m, status);
      assert.match(status, /^CapBnd:\s+0000000000000400$/m, status);
      assert.equal(await inspect('{{index .Config.Labels "org.opencontainers.image.version"}}'), (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  describe('VMs boot the lab image through the container (ProxyDHCP, TFTP and HTTP from inside it)', { concurrency: true }, () => {
    before(async () => {
      // Stand-in binaries cannot boot: Debian's iPXE goes into data/ipxe as the user's own build (no manifest,
      // no .from-image marker), which first start would keep. The manifest goes last: the running server
      // looks at the folder again when it disappears.
      const ipxeDir = join(setup.projectDir, 'data', 'ipxe');
      const debian = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'];
      for (const file of debian) await run(['cp', join(DEBIAN_IPXE, file), join(ipxeDir, file)]);
      await run(['chown', '-R', `${APP_UID}:${APP_UID}`, ipxeDir]);
      for (const name of await readdir(ipxeDir)) if (!debian.includes(name) && name !== 'manifest.json') await rm(join(ipxeDir, name), { force: true });
      await rm(join(ipxeDir, 'manifest.json'));
      await waitUntil('the container serves the binaries as custom ones', async () => /serving custom iPXE binaries from the data directory/.test(await containerLogs()), 30_000);
      // The running server reloads images.yaml on its own when the file changes.
      await writeFile(join(setup.projectDir, 'config', 'images.yaml'), renderLabConfig({ dir: '/data/lab-image' }, 1));
      await waitUntil('the container applied the lab config', async () => /"images":1\b.*"msg":"configuration reloaded"/.test(await containerLogs()), 30_000);
    });

    for (const firmware of ['bios', 'efi'] as const) {
      it(`${firmware === 'bios' ? 'BIOS (iPXE NIC ROM)' : 'UEFI x64 (EDK2 PXE, then ipxe.efi)'} boots the default image to the test initrd`, { timeout: BOOT_TIMEOUT_MS + 30_000 }, async (t) => {
        try {
          await bootVm(t, firmware);
        } catch (error) {
          failed = true;
          throw error;
        }
      });
    }
  });

  it('a broken images.yaml makes the container exit 2 with the located error in docker logs', { timeout: 120_000 }, async () => {
    try {
      await writeFile(join(setup.projectDir, 'config', 'images.yaml'), 'images:\n  - id: one\n    source:\n      dir: /srv\n    boot:\n      args: quiet\n');
      await compose(['restart', '--timeout', '5']);
      await waitUntil('the container exited with code 2', async () => (await inspect('{{.State.ExitCode}}')) === '2', 60_000);
      assert.match(await containerLogs(), /\/config\/images\.yaml:6:7: images\[0\]\.boot\.kernel: required/);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});
