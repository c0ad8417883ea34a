// The first start, end to end in the VM lab: a fresh data folder and the starter images.yaml, its Debian mirror
// pointed at a fake Debian archive served in the lab and signed by a test key. bootstation ingests the Debian netboot entry by itself, its
// menu says "downloading" meanwhile, and a BIOS VM then boots what was ingested to the test initrd's marker.
//
// Needs root, /dev/net/tun and QEMU (as test/e2e/netboot.test.ts); skipped with the reason otherwise, failed
// instead when CI=true.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { renderStarterConfig } from '../../src/appliance/starter-config.ts';
import type { ImageStatus } from '../../src/ingest/image-status.ts';
import { describeBoot } from '../../tools/lab/diagnostics.ts';
import { renderInitScript } from '../../tools/lab/initrd-files.ts';
import { startLab, waitForSerial, type Lab } from '../../tools/lab/lab.ts';
import { labSkipReason } from '../../tools/lab/preflight.ts';
import { runCommand } from '../../tools/lab/processes.ts';
import { furthestBootStep } from '../../tools/lab/serial-report.ts';
import { buildTestInitrd } from '../../tools/lab/test-initrd.ts';
import { ensureTestKernel } from '../../tools/lab/test-kernel.ts';
import { commandInHost } from '../../tools/lab/topology.ts';
import { CLI } from '../support/cli.ts';
import { generateTestSigningKey, releaseText, writeKeyring, writeSignedRelease, type TestSigningKey } from '../support/fake-release-trees.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const HTTP_PORT = 8080;
const NAS = '10.77.0.2';
const ROUTER = '10.77.0.1';
const MIRROR_PORT = 8000;
const MIRROR = `http://${ROUTER}:${MIRROR_PORT}/debian/`;
const IMAGE_ID = 'debian-netboot';
const TRICKLE_SERVER = fileURLToPath(new URL('../support/trickle-file-server.ts', import.meta.url));
// The mirror sends 2 MB/s: the ingest of the ≈ 10 MB netboot.tar.gz takes seconds, long enough to see in the menu.
const MIRROR_RATE = 2_000_000;
const INGEST_TIMEOUT_MS = 120_000;
// BIOS to the marker ≈ 30 s alone under TCG (docs/lab.md); the ingest and the menu's timeout come before it.
const BOOT_TIMEOUT_MS = 240_000;

const skipReason = skipOrFail('first-start', await labSkipReason());
const workDir = await mkdtemp(join(tmpdir(), 'bootstation-first-start-e2e-'));
let failed = false;

after(async () => {
  if (failed) process.stderr.write(`e2e: kept the first-start lab's logs and serial console in ${workDir}\n`);
  else await rm(workDir, { recursive: true, force: true });
});

/**
 * The fake installer's initrd.gz: the lab's test initrd with an /init that writes to ttyS0 itself. The
 * debian-netboot recipe passes no console= (Debian's installer needs none), so /dev/console is the screen;
 * the kernel unpacks concatenated cpio archives in order, so the second one's /init replaces the first's.
 */
async function installerInitrd(dir: string): Promise<{ linux: string; initrd: string }> {
  const kernel = await ensureTestKernel('amd64');
  const marker = join(dir, 'marker.cpio');
  await buildTestInitrd(kernel, marker);
  const overlay = join(dir, 'overlay');
  await mkdir(overlay, { recursive: true });
  const init = renderInitScript().replace('exec </dev/console >/dev/console 2>&1', 'exec </dev/ttyS0 >/dev/ttyS0 2>&1');
  assert.notEqual(init, renderInitScript(), 'the test initrd no longer opens /dev/console: adapt the overlay');
  await writeFile(join(overlay, 'init'), init, { mode: 0o755 });
  await runCommand(['sh', '-c', `echo init | cpio --quiet -o -H newc -R 0:0 > ../overlay.cpio && cat ${marker} ../overlay.cpio | gzip -1 > ../initrd.gz`], { cwd: overlay });
  return { linux: kernel.vmlinuz, initrd: join(dir, 'initrd.gz') };
}

/** Debian's netboot.tar.gz layout (./debian-installer/amd64/{linux,initrd.gz}) with the fake installer in it. */
async function fakeNetbootTarball(dir: string, files: { linux: string; initrd: string }): Promise<Buffer> {
  const root = join(dir, 'netboot-root');
  await mkdir(join(root, 'debian-installer', 'amd64'), { recursive: true });
  await runCommand(['cp', files.linux, join(root, 'debian-installer', 'amd64', 'linux')]);
  await runCommand(['cp', files.initrd, join(root, 'debian-installer', 'amd64', 'initrd.gz')]);
  await runCommand(['tar', '-czf', '../netboot.tar.gz', './debian-installer'], { cwd: root });
  return readFile(join(dir, 'netboot.tar.gz'));
}

/**
 * The starter images.yaml as first start writes it, with its commented mirrors: line pointed at the lab's fake
 * Debian tree, the test key as the Debian entry's keyring, and the menu's default set.
 */
function labStarterConfig(keyring: string): string {
  const text = renderStarterConfig()
    .replace(/^# mirrors: \{debian: \S+\}/m, `mirrors: {debian: "${MIRROR}"}`)
    .replace(/^(    recipe: debian-netboot .*\n    version: latest .*\n)/m, `$1    keyring: ${keyring}\n`)
    .replace('  # default: debian-netboot', '  default: debian-netboot')
    .replace(/timeout: 10/, 'timeout: 2')
    .replace('  http_port: 80 ', `  http_port: ${HTTP_PORT} `);
  assert.match(text, /^mirrors: /m, 'the starter config should offer a commented mirrors: line for Debian');
  assert.match(text, /^    keyring: /m, 'the starter config should have the debian-netboot entry with version: latest');
  assert.match(text, /^  default: debian-netboot/m, 'the starter config should offer menu.default: debian-netboot, commented out');
  return text;
}

/**
 * The fake Debian archive at <mirrorDir>/debian in Debian's layout (test/support/fake-release-trees.ts signs its
 * Release): dists/stable links to trixie, whose signed Release gives the digest of
 * main/installer-amd64/current/images/SHA256SUMS, which names a gtk/netboot.tar.gz first as Debian's does, then
 * netboot/netboot.tar.gz with the fake installer (binary files, which writeDebianTree's string contents cannot hold).
 */
async function fakeDebianTree(mirrorDir: string, tarball: Buffer, key: TestSigningKey): Promise<void> {
  const dists = join(mirrorDir, 'debian', 'dists');
  const images = join(dists, 'trixie', 'main', 'installer-amd64', 'current', 'images');
  await mkdir(join(images, 'netboot'), { recursive: true });
  await writeFile(join(images, 'netboot', 'netboot.tar.gz'), tarball);
  const sums = Buffer.from(`${'0'.repeat(64)}  ./netboot/gtk/netboot.tar.gz\n${createHash('sha256').update(tarball).digest('hex')}  ./netboot/netboot.tar.gz\n`);
  await writeFile(join(images, 'SHA256SUMS'), sums);
  const release = { codename: 'trixie', suite: 'stable', version: '13.2' };
  await writeSignedRelease(join(dists, 'trixie'), releaseText(release, { 'main/installer-amd64/current/images/SHA256SUMS': sums }), key);
  await symlink('trixie', join(dists, 'stable'));
}

/** What bootstation serves at url, fetched inside the lab from the router (the test itself is outside the lab). */
function fetchInLab(lab: Lab, url: string): Promise<string> {
  return runCommand(commandInHost(lab.topology, 'router', ['busybox', 'wget', '-q', '-O', '-', url]));
}

describe('first start in the lab', { skip: skipReason }, () => {
  it('ingests the starter Debian netboot entry by itself, the menu shows its progress, then a BIOS VM boots it', { timeout: 900_000 }, async (t) => {
    let lab: Lab | undefined;
    try {
      const installer = await installerInitrd(workDir);
      const mirrorDir = join(workDir, 'mirror');
      const key = await generateTestSigningKey();
      await fakeDebianTree(mirrorDir, await fakeNetbootTarball(workDir, installer), key);
      const configPath = join(workDir, 'config', 'images.yaml');
      await mkdir(join(workDir, 'config'), { recursive: true });
      await writeFile(configPath, labStarterConfig(await writeKeyring(join(workDir, 'test-archive-keyring.gpg'), key)));
      const dataDir = join(workDir, 'data');
      await mkdir(dataDir);

      await mkdir(join(workDir, 'lab'));
      lab = await startLab({ prefix: 'bsfirst', workDir: join(workDir, 'lab') });
      await lab.startIn('router', 'mirror', [process.execPath, TRICKLE_SERVER, mirrorDir, ROUTER, String(MIRROR_PORT), String(MIRROR_RATE)]);
      await lab.startBootstation({ command: [process.execPath, CLI], configPath, dataDir, httpPort: HTTP_PORT, proxyDhcp: true, logLevel: 'debug' });
      // Nobody runs `bootstation ingest`: the server ingests the starter's images by itself. The menu while it does, then once it is done.
      const menuUrl = `http://${NAS}:${HTTP_PORT}/menu.ipxe?mac=52:54:00:77:00:01&platform=pcbios&buildarch=i386`;
      const menus: string[] = [];
      const started = Date.now();
      for (;;) {
        const menu = await fetchInLab(lab, menuUrl);
        menus.push(menu);
        if (menu.includes(`\nitem bs-image-${IMAGE_ID} `)) break;
        assert.ok(Date.now() - started < INGEST_TIMEOUT_MS, `the menu never offered ${IMAGE_ID}; the last one:\n${menu}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const progress = [...new Set(menus.map((menu) => /^item --gap -- .*\(downloading( \d+ %)?\)$/m.exec(menu)?.[0]).filter(Boolean))];
      t.diagnostic(`menu lines while ingesting: ${JSON.stringify(progress)}`);
      assert.ok(progress.some((line) => / \d+ %\)$/.test(line!)), `the menu should have said "downloading N %" during the ingest; its lines were ${JSON.stringify(progress)}`);
      const { images } = JSON.parse(await fetchInLab(lab, `http://${NAS}:${HTTP_PORT}/api/images`)) as { images: ImageStatus[] };
      const debian = images.find((image) => image.id === IMAGE_ID);
      assert.equal(debian?.state, 'ready');
      assert.equal(debian?.version, '13.2', 'latest is the release dists/stable points at');
      assert.match(debian?.verification ?? '', /^archive verified \(sha256 from a SHA256SUMS whose digest a signed Release gives/, 'checked through the signed Release');

      const vm = await lab.startVm('bios');
      const wait = await waitForSerial(vm, (report) => report.done, BOOT_TIMEOUT_MS);
      if (!vm.process.hasExited()) await vm.process.stop();
      const story = await describeBoot(lab, vm, wait);
      t.diagnostic(`bios: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s, furthest step ${furthestBootStep(wait.serial) ?? 'none'}`);
      assert.ok(wait.report.marker, `the BIOS VM did not reach the fake installer's initrd\n${story}`);
      assert.equal(wait.report.machine, 'x86_64', `the installer's amd64 kernel should have run\n${story}`);
      assert.match(wait.report.cmdline ?? '', /^initrd=initrd\.gz\s*$/, `the recipe's kernel command line (no arguments) should reach the kernel\n${story}`);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await lab?.close();
    }
  });
});
