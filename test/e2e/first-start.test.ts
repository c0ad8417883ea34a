// The first start, end to end in the VM lab: a fresh data folder and the starter images.yaml, its Debian mirror
// pointed at a fake Debian archive served in the lab and signed by a test key, which also lists Debian's real memtest86+
// package. bootstation ingests the Debian netboot and memtest entries by itself, its menu says "downloading" meanwhile,
// a BIOS VM then boots the installer to the test initrd's marker, and after a live edit of images.yaml (memtest as the
// default, on the serial console) a second BIOS VM runs memtest86+.
//
// Needs root, /dev/net/tun and QEMU (as test/e2e/netboot.test.ts); skipped with the reason otherwise, failed
// instead when CI=true.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
import { downloadDebianPackage, writePackageIndex, type FakePackage } from '../support/fake-debian-packages.ts';
import { generateTestSigningKey, releaseText, writeDebianTree, writeKeyring, writeSignedRelease, type TestSigningKey } from '../support/fake-release-trees.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const HTTP_PORT = 8080;
const NAS = '10.77.0.2';
const ROUTER = '10.77.0.1';
const MIRROR_PORT = 8000;
const MIRROR = `http://${ROUTER}:${MIRROR_PORT}/debian/`;
const IMAGE_ID = 'debian-netboot';
const MEMTEST_ID = 'memtest';
const TRICKLE_SERVER = fileURLToPath(new URL('../support/trickle-file-server.ts', import.meta.url));
// The mirror sends 2 MB/s: the ingest of the ≈ 10 MB netboot.tar.gz takes seconds, long enough to see in the menu.
const MIRROR_RATE = 2_000_000;
const INGEST_TIMEOUT_MS = 120_000;
// BIOS to the marker ≈ 30 s alone under TCG (docs/lab.md); the ingest and the menu's timeout come before it.
const BOOT_TIMEOUT_MS = 240_000;
// The memtest ingest runs after the Debian one, usually while the first VM boots.
const MEMTEST_INGEST_TIMEOUT_MS = 120_000;
// The live reload of images.yaml (debounced 200 ms), then BIOS, iPXE, the menu's 2 s and memtest86+'s start.
const RELOAD_TIMEOUT_MS = 30_000;
const MEMTEST_BOOT_TIMEOUT_MS = 180_000;
// What memtest86+ prints on a serial console once it tests (its header, then the status line; 6.x and 7.x alike).
const MEMTEST_RUNNING = [/Memtest86\+ v\d+\.\d+/, /Status: Testing/] as const;

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

/**
 * The starter images.yaml as first start writes it, with its commented mirrors: line pointed at the lab's fake
 * Debian tree, the test key as the Debian and memtest entries' keyring, and the menu's default set.
 */
function labStarterConfig(keyring: string): string {
  const text = renderStarterConfig()
    .replace(/^# mirrors: \{debian: \S+\}/m, `mirrors: {debian: "${MIRROR}"}`)
    .replace(/^(    recipe: debian-netboot .*\n    version: latest .*\n)/m, `$1    keyring: ${keyring}\n`)
    .replace(/^(    recipe: memtest86plus .*\n    version: latest .*\n)/m, `$1    keyring: ${keyring}\n`)
    .replace('  # default: debian-netboot', '  default: debian-netboot')
    .replace(/timeout: 10/, 'timeout: 2')
    .replace('  http_port: 80 ', `  http_port: ${HTTP_PORT} `);
  assert.match(text, /^mirrors: /m, 'the starter config should offer a commented mirrors: line for Debian');
  assert.match(text, /^    recipe: debian-netboot .*\n    version: latest .*\n    keyring: /m, 'the starter config should have the debian-netboot entry with version: latest');
  assert.match(text, /^    recipe: memtest86plus .*\n    version: latest .*\n    keyring: /m, 'the starter config should have the memtest86plus entry with version: latest');
  assert.match(text, /^  default: debian-netboot/m, 'the starter config should offer menu.default: debian-netboot, commented out');
  return text;
}

/**
 * The live edit after the installer booted: memtest becomes the menu's default and gets memtest86+'s serial console (it draws on the
 * screen otherwise), its kernel command line being the entry's boot.args.
 */
function memtestDefaultConfig(text: string): string {
  const edited = text
    .replace(/^(    recipe: memtest86plus .*\n    version: latest .*\n    keyring: .*\n)/m, '$1    boot: {args: "console=ttyS0,115200"}\n')
    .replace(/^  default: debian-netboot$/m, `  default: ${MEMTEST_ID}`);
  assert.match(edited, /^    boot: \{args: "console=ttyS0,115200"\}$/m, 'the memtest entry should have taken boot.args');
  assert.match(edited, new RegExp(`^  default: ${MEMTEST_ID}$`, 'm'), 'the menu default should have become memtest');
  return edited;
}

/**
 * The fake Debian archive at <mirrorDir>/debian in Debian's layout, with dists/stable linking to trixie: writeDebianTree's
 * installer images (SHA256SUMS naming a gtk/netboot.tar.gz first as Debian's does, then netboot/netboot.tar.gz with the
 * fake installer), and main/binary-amd64/Packages.gz listing `packages` in the pool; the signed Release lists both.
 */
async function fakeDebianTree(mirrorDir: string, installer: { linux: string; initrd: string }, packages: readonly FakePackage[], key: TestSigningKey): Promise<void> {
  const root = join(mirrorDir, 'debian');
  const release = { codename: 'trixie', suite: 'stable', version: '13.2' };
  const tree = await writeDebianTree(root, { ...release, linux: await readFile(installer.linux), initrd: await readFile(installer.initrd) }, key);
  const { indexes } = await writePackageIndex(root, release.codename, packages);
  // writeDebianTree's Release lists the installer's SHA256SUMS only: sign one that lists the Packages index too.
  const files = { 'main/installer-amd64/current/images/SHA256SUMS': await readFile(tree.sums), ...indexes };
  await writeSignedRelease(tree.dists, releaseText(release, files), key);
}

/** The image `id` of /api/images, fetched inside the lab. */
async function imageStatus(lab: Lab, id: string): Promise<ImageStatus | undefined> {
  const { images } = JSON.parse(await fetchInLab(lab, `http://${NAS}:${HTTP_PORT}/api/images`)) as { images: ImageStatus[] };
  return images.find((image) => image.id === id);
}

/** The paths bootstation's HTTP log says it answered with `status` (its JSON lines of "http request"). */
async function httpPaths(lab: Lab, status: number): Promise<string[]> {
  const lines = (await readFile(lab.bootstationLog, 'utf8')).split('\n').filter((line) => line.includes('"http request"'));
  return lines.map((line) => JSON.parse(line) as { url?: string; status?: number }).filter((entry) => entry.status === status).map((entry) => entry.url ?? '');
}

/** What bootstation serves at url, fetched inside the lab from the router (the test itself is outside the lab). */
function fetchInLab(lab: Lab, url: string): Promise<string> {
  return runCommand(commandInHost(lab.topology, 'router', ['busybox', 'wget', '-q', '-O', '-', url]));
}

describe('first start in the lab', { skip: skipReason }, () => {
  it('ingests the starter Debian netboot and memtest entries by itself, the menu shows its progress, a BIOS VM boots the installer, then memtest after a live edit', { timeout: 900_000 }, async (t) => {
    let lab: Lab | undefined;
    try {
      const installer = await installerInitrd(workDir);
      const mirrorDir = join(workDir, 'mirror');
      const key = await generateTestSigningKey();
      // Debian's own package (from Debian's package mirrors, which CI has), so the VM runs the real memtest86+.
      const memtest = await downloadDebianPackage('memtest86+', join(workDir, 'apt'));
      await fakeDebianTree(mirrorDir, installer, [memtest], key);
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
      const debian = await imageStatus(lab, IMAGE_ID);
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
      // The second VM's serial console goes to the same file: keep the first one's.
      await copyFile(vm.serialLog, join(lab.workDir, 'serial-bios-installer.log'));

      // The memtest entry, ingested by itself too once the Debian one was: Debian's package through the signed archive.
      const memtestWait = Date.now();
      let memtestStatus = await imageStatus(lab, MEMTEST_ID);
      while (memtestStatus?.state !== 'ready' && memtestStatus?.state !== 'failed' && Date.now() - memtestWait < MEMTEST_INGEST_TIMEOUT_MS) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        memtestStatus = await imageStatus(lab, MEMTEST_ID);
      }
      assert.equal(memtestStatus?.state, 'ready', `the memtest entry should have been ingested by itself: ${JSON.stringify(memtestStatus)}`);
      assert.equal(memtestStatus?.version, memtest.version, 'latest is the memtest86+ package the suite\'s Packages index lists');
      assert.equal(memtestStatus?.verifiedBy, 'signature', JSON.stringify(memtestStatus));
      assert.match(memtestStatus?.verification ?? '', /^archive verified \(sha256 from a Packages index whose digest a signed Release gives/, 'checked through the signed Release');

      // A live edit: memtest on the serial console, the menu's default. The server reloads images.yaml by itself.
      await writeFile(configPath, memtestDefaultConfig(await readFile(configPath, 'utf8')));
      const edited = Date.now();
      for (;;) {
        const menu = await fetchInLab(lab, menuUrl);
        if (menu.includes(`--default bs-image-${MEMTEST_ID} `) && /^kernel \$\{base-url\}memtest64\.bin console=ttyS0,115200 /m.test(menu)) break;
        assert.ok(Date.now() - edited < RELOAD_TIMEOUT_MS, `the menu never made memtest the default with console=ttyS0; the last one:\n${menu}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const memtestVm = await lab.startVm('bios');
      const running = await waitForSerial(memtestVm, (_report, serial) => MEMTEST_RUNNING.every((pattern) => pattern.test(serial)), MEMTEST_BOOT_TIMEOUT_MS);
      if (!memtestVm.process.hasExited()) await memtestVm.process.stop();
      const memtestStory = await describeBoot(lab, memtestVm, running);
      t.diagnostic(`bios memtest: ${running.outcome} after ${(running.elapsedMs / 1000).toFixed(1)} s, ${/Memtest86\+ v[\d.]+/.exec(running.serial)?.[0] ?? 'no memtest86+ header'}`);
      assert.equal(running.outcome, 'matched', `the second BIOS VM should have run memtest86+ on its serial console\n${memtestStory}`);
      assert.ok((await httpPaths(lab, 200)).includes(`/images/${MEMTEST_ID}/memtest64.bin`), `iPXE should have fetched memtest64.bin over HTTP\n${memtestStory}`);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await lab?.close();
    }
  });
});
