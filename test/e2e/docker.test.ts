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
// and are stopped by pid. The set-up it shares with docker-arm64.test.ts (the linux/arm64 image under
// emulation) is test/support/docker-appliance.ts. Needs root, docker.io, docker-compose, debootstrap and
// the lab's packages; skipped with the reason otherwise, and failed instead when CI=true (skip-policy.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labSkipReason } from '../../tools/lab/preflight.ts';
import { startProcess } from '../../tools/lab/processes.ts';
import { parseIpxeBuildManifest } from '../../src/ipxe/manifest.ts';
import { APP_UID, bootThroughContainer, buildImage, compose, CONTAINER, containerLogs, inspect, newAppliance, prepareContext, REPO, serveLabImageWithDebianIpxe, startNas, step, stopAppliance, useWorkDir, waitUntil } from '../support/docker-appliance.ts';
import { BASE_IMAGES, dockerSkipReason, ensureBaseImageFiles, loadBaseImages, startDockerd } from '../support/docker-engine.ts';
import { skipOrFail } from '../support/skip-policy.ts';

// Measured on 2 cores: a cold build (apt-get with the compilers, npm ci, tsc) ≈ 5 min; the VMs as in netboot.test.ts.
const BUILD_TIMEOUT_MS = 900_000;
const HEALTHY_TIMEOUT_MS = 90_000;
const BOOT_TIMEOUT_MS = 240_000;

const skipReason = skipOrFail('docker', (await dockerSkipReason('the Docker test', [['docker-compose', 'docker-compose'], ['nsenter', 'util-linux'], ['git', 'git']])) ?? (await labSkipReason()));

const app = newAppliance({ project: 'bsdocker', labPrefix: 'bsdock', label: 'docker e2e' });

describe('docker appliance: the image built from the Dockerfile, run by compose.yaml, boots VMs', { skip: skipReason }, () => {
  before(async () => {
    const started = Date.now();
    const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    useWorkDir(app, await mkdtemp(join(tmpdir(), 'bootstation-docker-')));
    const progress = app.progress;
    await step(app, async () => {
      const files = await ensureBaseImageFiles(progress);
      progress(`base image files ${files.made ? 'made' : 'taken from the cache'} (${files.dir}) after ${seconds()}`);
      app.builder = await startDockerd(join(app.workDir, 'engine-build'), (argv, log) => startProcess('dockerd-build', argv, log));
      await loadBaseImages(app.builder, files, app.workDir);
      progress(`base images loaded after ${seconds()}`);
      const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
      const context = await prepareContext(app);
      // KEYMAP and TARGETS stay at the Dockerfile's defaults (us; bios, efi64, efi32, arm64), as `docker compose up` builds.
      const buildArgs = { NODE_IMAGE: BASE_IMAGES.node, DEBIAN_IMAGE: BASE_IMAGES.debian, IPXE_SOURCE: 'ipxe-2.0.0.tar.gz', VERSION: version };
      const output = await buildImage(app, { context, buildArgs, timeoutMs: BUILD_TIMEOUT_MS });
      progress(`image built after ${seconds()}`);
      assert.match(output, /build-ipxe: ipxe-2\.0\.0\.tar\.gz is iPXE v2\.0\.0 as \/build\/ipxe-src\/pin\.json pins it/, 'the ipxe stage checked the tarball against the pin');
      assert.match(output, /build-ipxe: building arm64 \(bin-arm64-efi\/snp\.efi\)/, 'arm64 is a default target');

      await startNas(app);
      progress(`image moved into the NAS namespace's engine after ${seconds()}`);
    });
  }, { timeout: BUILD_TIMEOUT_MS + 300_000 });

  after(() => stopAppliance(app));

  it('docker-compose accepts compose.yaml: host network, NET_BIND_SERVICE only, both volumes, the environment', async () => {
    await step(app, async () => {
      const config = await compose(app, ['config']);
      assert.match(config, /network_mode: host/);
      assert.match(config, /cap_drop:\n\s+- ALL/);
      assert.match(config, /cap_add:\n\s+- NET_BIND_SERVICE/);
      assert.match(config, /restart: unless-stopped/);
      assert.match(config, /BOOTSTATION_HTTP_PORT: '8080'/);
      assert.match(config, /BOOTSTATION_PROXY_DHCP: ''/, 'an option the caller leaves unset stays empty, which serve reads as unset');
      for (const volume of ['config', 'data']) assert.ok(config.includes(`- ${join(app.projectDir, volume)}:/${volume}:rw`), `the ${volume} volume is the project's ./${volume}:\n${config}`);
    });
  });

  it('first start: a starter images.yaml and the image’s iPXE binaries appear, it runs as non-root with only NET_BIND_SERVICE and turns healthy', { timeout: HEALTHY_TIMEOUT_MS + 120_000 }, async (t) => {
    await step(app, async () => {
      await compose(app, ['up', '--detach', '--no-build'], 180_000);
      await waitUntil(app, 'the container turned healthy', async () => (await inspect(app, '{{.State.Health.Status}}')) === 'healthy', HEALTHY_TIMEOUT_MS);
      t.diagnostic(`health: ${await inspect(app, '{{(index .State.Health.Log 0).Output}}')}`);
      const starter = await readFile(join(app.projectDir, 'config', 'images.yaml'), 'utf8');
      assert.match(starter, /^# bootstation configuration, written on the container's first start/);
      const ipxe = await readdir(join(app.projectDir, 'data', 'ipxe'));
      for (const file of ['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'ipxe32.efi', 'snp-arm64.efi', 'manifest.json', '.from-image']) {
        assert.ok(ipxe.includes(file), `data/ipxe should hold ${file}, holds ${ipxe.join(', ')}`);
      }
      // The image's iPXE was compiled from the stand-in release: its manifest names the pinned version and the
      // commit from the tarball's pax header, and the binaries carry the stand-in's marks.
      const manifest = parseIpxeBuildManifest(await readFile(join(app.projectDir, 'data', 'ipxe', 'manifest.json'), 'utf8'));
      assert.ok(manifest, 'data/ipxe/manifest.json is a manifest bootstation wrote');
      assert.equal(manifest.version, 'v2.0.0');
      assert.equal(manifest.commit, app.release?.commit);
      assert.deepEqual(manifest.targets, ['bios', 'efi64', 'efi32', 'arm64']);
      assert.match(await readFile(join(app.projectDir, 'data', 'ipxe', 'undionly.kpxe'), 'utf8'), /^stand-in build of bin\/undionly\.kpxe\n/);
      assert.equal(await inspect(app, '{{.Config.User}}'), 'bootstation');
      assert.equal((await app.nas!.docker(['exec', CONTAINER, 'id', '-u'])).trim(), String(APP_UID));
      // /proc/1/status of the server: CapEff 0x400 is CAP_NET_BIND_SERVICE (bit 10) and nothing else.
      const status = await app.nas!.docker(['exec', CONTAINER, 'cat', '/proc/1/status']);
      assert.match(status, /^Uid:\s+10001\s/m);
      assert.match(status, /^CapEff:\s+0000000000000400$/m, status);
      assert.match(status, /^CapBnd:\s+0000000000000400$/m, status);
      assert.equal(await inspect(app, '{{index .Config.Labels "org.opencontainers.image.version"}}'), (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
    });
  });

  describe('VMs boot the lab image through the container (ProxyDHCP, TFTP and HTTP from inside it)', { concurrency: true }, () => {
    before(() => step(app, () => serveLabImageWithDebianIpxe(app)));

    for (const firmware of ['bios', 'efi'] as const) {
      it(`${firmware === 'bios' ? 'BIOS (iPXE NIC ROM)' : 'UEFI x64 (EDK2 PXE, then ipxe.efi)'} boots the default image to the test initrd`, { timeout: BOOT_TIMEOUT_MS + 30_000 }, async (t) => {
        await step(app, () => bootThroughContainer(app, t, firmware, BOOT_TIMEOUT_MS));
      });
    }
  });

  it('a broken images.yaml makes the container exit 2 with the located error in docker logs', { timeout: 120_000 }, async () => {
    await step(app, async () => {
      await writeFile(join(app.projectDir, 'config', 'images.yaml'), 'images:\n  - id: one\n    source:\n      dir: /srv\n    boot:\n      args: quiet\n');
      await compose(app, ['restart', '--timeout', '5']);
      await waitUntil(app, 'the container exited with code 2', async () => (await inspect(app, '{{.State.ExitCode}}')) === '2', 60_000);
      assert.match(await containerLogs(app), /\/config\/images\.yaml:6:7: images\[0\]\.boot\.kernel: required/);
    });
  });
});
