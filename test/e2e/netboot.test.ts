// The VM lab: real firmware (SeaBIOS + iPXE ROM; OVMF, OVMF32 and AAVMF with EDK2's PXE or UEFI HTTP Boot)
// netboots through `bootstation serve` next to a router that only hands out addresses, and must reach the test
// initrd of the right architecture, which reports `uname -m`, its command line and the checksum of a file it
// fetched from ${base-url} (see tools/lab).
//
// Needs root, /dev/net/tun and QEMU (Debian packages in .ci/run); skipped with the reason otherwise,
// and failed instead of skipped when CI=true (test/support/skip-policy.ts).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { findIpxeBinaries, type IpxeBinaries } from '../../src/ipxe/binaries.ts';
import { LAB_ARCHITECTURES, LAB_ARCHS, labArchOfCpu, type LabArch } from '../../tools/lab/architectures.ts';
import { describeBoot } from '../../tools/lab/diagnostics.ts';
import { buildGrubStandIn, GRUB_STAND_IN_BANNER } from '../../tools/lab/grub-stand-in.ts';
import { LAB_IMAGE_ID, LAB_PAYLOAD_FILE, LAB_X86_64_ONLY_IMAGE_ID, labImageArgs, prepareLabImage, renderLabConfig, type LabImage } from '../../tools/lab/lab-image.ts';
import { startLab, waitForSerial, type Lab, type LabVm, type SerialWait } from '../../tools/lab/lab.ts';
import { firmwareSkipReason, foreignArchitecturesSkipReason, grubStandInSkipReason, labSkipReason } from '../../tools/lab/preflight.ts';
import { runCommand } from '../../tools/lab/processes.ts';
import { cleanSerialText, furthestBootStep } from '../../tools/lab/serial-report.ts';
import { ensureTestKernel } from '../../tools/lab/test-kernel.ts';
import { commandInHost, labPlatform, labTransport, type LabFirmware } from '../../tools/lab/topology.ts';
import { CLI } from '../support/cli.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const HTTP_PORT = 8080;
const NAS = '10.77.0.2';
const SERVER_URL = `http://${NAS}:${HTTP_PORT}`;
const BASE_URL = `${SERVER_URL}/images/${LAB_IMAGE_ID}/`;
/** The lab image's arguments on one architecture, ${base-url} expanded as iPXE expands it. */
const expectedArgs = (arch: LabArch): string => labImageArgs(arch).replace('${base-url}', BASE_URL);
// Measured under TCG on 2 cores, one VM alone: BIOS ≈ 30 s, UEFI ≈ 40 s, arm64 ≈ 25 s to the marker.
// Two at a time (VM_SLOTS) each take longer; the timeout counts from the VM's power-on, not its wait for a slot.
const BOOT_TIMEOUT_MS = 240_000;
const BROKEN_TIMEOUT_MS = 60_000;
// VMs that run at once across every lab of this file. Measured on 2 cores with 7 VMs: 2 at a time 2 min 22 s for
// the file, each boot about as fast as alone; 4 at a time 2 min 01 s; all 7 at once 1 min 52 s, but each UEFI boot
// then takes 70-77 s instead of 40 s, a third of the margin to the timeout under CI's other load. With the ia32
// stand-in (8 VMs), 2 at a time: 2 min 58 s while other work shared the cores.
const VM_SLOTS = 2;
// A test waits for a slot, then boots: the backstop covers every VM of the file queued ahead of it.
const TEST_TIMEOUT_MS = 900_000;

// The lab image boots Debian's i386, amd64 and arm64 kernels, downloaded with apt.
const skipReason = skipOrFail('netboot', (await labSkipReason()) ?? (await foreignArchitecturesSkipReason(LAB_ARCHS)));

/** The parts every lab in this file shares: the work folder, the lab image, its images.yaml and the data folders. */
interface Shared {
  workDir: string;
  image: LabImage;
  configPath: string;
  /** bootstation's data folder: the repository's data/ when it holds an iPXE build, else an empty one (Debian's stock iPXE). */
  dataDir: string;
  ipxe: IpxeBinaries;
  /** A data folder whose data/ipxe holds only the GRUB stand-ins for snp-arm64.efi and ipxe32.efi (tools/lab/grub-stand-in.ts). */
  standIn: { dataDir: string } | { skip: string };
}

let shared: Promise<Shared> | undefined;
let failed = false;

// Built once for the whole file: the kernel and package downloads are cached across runs, the initrds are not.
function sharedSetup(): Promise<Shared> {
  shared ??= (async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'bootstation-e2e-'));
    const kernels = [];
    for (const arch of LAB_ARCHS) kernels.push(await ensureTestKernel(arch));
    const image = await prepareLabImage(join(workDir, 'image'), ...kernels);
    const configPath = join(workDir, 'images.yaml');
    await writeFile(configPath, renderLabConfig({ dir: image.dir, archs: image.archs }, 1, { x86_64Only: true }));
    // The repository's data/ipxe when someone built bootstation's own iPXE there, else Debian's stock binaries.
    const repoData = new URL('../../data', import.meta.url).pathname;
    const repoIpxe = await findIpxeBinaries(join(repoData, 'ipxe'));
    const dataDir = repoIpxe.kind !== 'stock' ? repoData : join(workDir, 'data');
    await mkdir(dataDir, { recursive: true });
    const standInSkip = await grubStandInSkipReason();
    const standIn: Shared['standIn'] = standInSkip ? { skip: standInSkip } : { dataDir: join(workDir, 'stand-in-data') };
    if ('dataDir' in standIn) {
      await mkdir(join(standIn.dataDir, 'ipxe'), { recursive: true });
      for (const firmware of ['arm64', 'efi32'] as const) {
        const arch = labArchOfCpu(labPlatform(firmware).cpu);
        await buildGrubStandIn(firmware, join(standIn.dataDir, 'ipxe'), {
          server: NAS,
          httpPort: HTTP_PORT,
          kernelPath: `/images/${LAB_IMAGE_ID}/${arch}/vmlinuz`,
          initrdPath: `/images/${LAB_IMAGE_ID}/${arch}/initrd.cpio`,
          args: expectedArgs(arch),
        });
      }
    }
    return { workDir, image, configPath, dataDir, ipxe: await findIpxeBinaries(join(dataDir, 'ipxe')), standIn };
  })();
  return shared;
}

/** A counting semaphore: at most `size` callers run `task` at once, the others wait in order. */
function createSlots(size: number): <T>(task: () => Promise<T>) => Promise<T> {
  let free = size;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
const inVmSlot = createSlots(VM_SLOTS);

async function openLab(prefix: string, options: { proxyDhcp: boolean; dataDir?: string }): Promise<Lab> {
  const { workDir, configPath, dataDir } = await sharedSetup();
  const labDir = join(workDir, prefix);
  await mkdir(labDir, { recursive: true });
  const lab = await startLab({ prefix, workDir: labDir });
  try {
    // debug: every ProxyDHCP answer and TFTP read request is a log line the tests read.
    await lab.startBootstation({ command: [process.execPath, CLI], configPath, dataDir: options.dataDir ?? dataDir, httpPort: HTTP_PORT, proxyDhcp: options.proxyDhcp, logLevel: 'debug' });
  } catch (error) {
    await lab.close();
    throw error;
  }
  return lab;
}

/** Powers a VM on when a slot is free and waits until its test initrd is done or the VM stops; a VM still running is then stopped. */
async function bootVm(lab: Lab, firmware: LabFirmware, timeoutMs: number): Promise<{ vm: LabVm; wait: SerialWait; story: string }> {
  return inVmSlot(async () => {
    const vm = await lab.startVm(firmware);
    const wait = await waitForSerial(vm, (report) => report.done, timeoutMs);
    // A VM that hangs would hold its slot and a core for the rest of the file.
    if (!vm.process.hasExited()) await vm.process.stop();
    return { vm, wait, story: await describeBoot(lab, vm, wait) };
  });
}

/** Boots a VM and waits for the test initrd to finish; every failed assertion carries the boot's story. */
async function bootToInitrd(t: TestContext, lab: Lab, firmware: LabFirmware): Promise<{ wait: SerialWait; story: string }> {
  const { wait, story } = await bootVm(lab, firmware, BOOT_TIMEOUT_MS);
  t.diagnostic(`${firmware}: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s, furthest step ${furthestBootStep(wait.serial) ?? 'none'}`);
  assert.ok(wait.report.marker, `the ${firmware} VM did not reach the test initrd\n${story}`);
  return { wait, story };
}

/** The test initrd of `arch` ran: its kernel (uname -m), its command line, and the checked fetch from ${base-url}. */
async function assertBootedImage(firmware: LabFirmware, arch: LabArch, wait: SerialWait, story: string): Promise<void> {
  const { image } = await sharedSetup();
  const { cmdline, netboot, machine } = wait.report;
  assert.equal(machine, LAB_ARCHITECTURES[arch].machine, `${firmware}: the ${arch} kernel should have run\n${story}`);
  // iPXE puts initrd= (and on EFI the image name) first, GRUB BOOT_IMAGE=; the configured args must follow
  // unchanged, with ${base-url} expanded to the image's folder.
  const args = expectedArgs(arch);
  assert.ok(cmdline?.endsWith(` ${args}`), `${firmware}: the kernel command line should end with\n  ${args}\nbut is\n  ${cmdline}\n${story}`);
  assert.deepEqual(netboot, { ok: true, sha256: image.payloadSha256, url: `${BASE_URL}${LAB_PAYLOAD_FILE}` }, `${firmware}: netboot= fetch\n${story}`);
}

/** bootstation's JSON log lines. */
async function bootstationLogLines(lab: Lab): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(lab.bootstationLog, 'utf8');
  return text.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** The files bootstation's TFTP server was asked for (its debug line per read request). */
async function tftpReads(lab: Lab): Promise<string[]> {
  return (await bootstationLogLines(lab)).filter((line) => line['msg'] === 'TFTP read request').map((line) => String(line['file']));
}

/** bootstation's HTTP request log lines for one path. */
async function httpRequests(lab: Lab, path: string): Promise<Array<Record<string, unknown>>> {
  return (await bootstationLogLines(lab)).filter((line) => line['msg'] === 'http request' && String(line['url']).split('?')[0] === path);
}

/** What bootstation serves at url, fetched from the lab's router (busybox wget: the test itself is outside the lab). */
async function fetchInLab(lab: Lab, url: string): Promise<string> {
  return runCommand(commandInHost(lab.topology, 'router', ['busybox', 'wget', '-q', '-O', '-', url]));
}

/** The menu iPXE gets with this ${platform}/${buildarch}, as boot.ipxe chains it. */
function menuUrl(mac: string, platform: string, buildarch: string): string {
  return `${SERVER_URL}/menu.ipxe?mac=${mac}&platform=${platform}&buildarch=${buildarch}`;
}

/** Whether a menu offers an image: a selectable item and its label (a hidden or unavailable one has neither). */
function menuOffers(menu: string, imageId: string): boolean {
  return menu.includes(`\nitem bs-image-${imageId} `) && menu.includes(`\n:bs-image-${imageId}\n`);
}

/** The kernel the menu's section for an image boots (the path after ${base-url}). */
function menuKernel(menu: string, imageId: string): string | undefined {
  const section = menu.slice(menu.indexOf(`\n:bs-image-${imageId}\n`));
  return /\nkernel \$\{base-url\}(\S+)/.exec(section)?.[1];
}

/** Runs a test body and notes a failure, so the lab's logs are kept. */
async function keepLogsOnFailure(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    failed = true;
    throw error;
  }
}

describe('netboot lab', { skip: skipReason, concurrency: true }, () => {
  describe('PXE: VMs boot through bootstation next to a plain DHCP router, each the kernel of its CPU', { concurrency: true }, () => {
    let lab: Lab | undefined;
    before(() => keepLogsOnFailure(async () => void (lab = await openLab('bse2e', { proxyDhcp: true }))));
    after(() => lab?.close());

    it('BIOS: the iPXE NIC ROM goes from the ProxyDHCP answer straight to /boot.ipxe and boots the i386 spec, listed first', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const { wait, story } = await bootToInitrd(t, lab, 'bios');
        assert.match(cleanSerialText(wait.serial), new RegExp(`Filename: http://${NAS.replaceAll('.', '\\.')}:${HTTP_PORT}/boot\\.ipxe`), `bios: the ROM should be told /boot.ipxe\n${story}`);
        await assertBootedImage('bios', 'i386', wait, story);
      });
    });

    it("UEFI x64: EDK2's PXE fetches ipxe.efi over TFTP, then iPXE boots the amd64 spec although i386 is listed first", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const skip = await firmwareSkipReason('efi', (await sharedSetup()).ipxe);
      if (skip) return t.skip(skipOrFail(`netboot-efi-${skip.missing}`, skip.reason));
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const { wait, story } = await bootToInitrd(t, lab, 'efi');
        assert.match(cleanSerialText(wait.serial), /NBP filename is ipxe\.efi/, `efi: EDK2 should be offered ipxe.efi\n${story}`);
        await assertBootedImage('efi', 'amd64', wait, story);
        // The control for the ia32 and arm64 VMs' hidden entry: the x64 VM's own menu offers it.
        const menu = await menuFetchedBy(lab, 'efi', story);
        assert.ok(menuOffers(menu, LAB_X86_64_ONLY_IMAGE_ID), `efi: its menu should offer the x86_64-only image:\n${menu}\n${story}`);
      });
    });

    it('menus by CPU: 32-bit and arm64 UEFI iPXE get their own kernel and no x86_64-only entry, x86_64 gets both', { timeout: 60_000 }, async () => {
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const mac = '52:54:00:77:00:99';
        const x64 = await fetchInLab(lab, menuUrl(mac, 'efi', 'x86_64'));
        const ia32 = await fetchInLab(lab, menuUrl(mac, 'efi', 'i386'));
        const arm64 = await fetchInLab(lab, menuUrl(mac, 'efi', 'arm64'));
        assert.ok(menuOffers(x64, LAB_X86_64_ONLY_IMAGE_ID), `x86_64 iPXE should be offered the x86_64-only image:\n${x64}`);
        assert.equal(menuKernel(x64, LAB_IMAGE_ID), 'amd64/vmlinuz', `x86_64 iPXE should boot the amd64 spec:\n${x64}`);
        for (const [name, menu, kernel] of [['ia32', ia32, 'i386/vmlinuz'], ['arm64', arm64, 'arm64/vmlinuz']] as const) {
          assert.ok(!menuOffers(menu, LAB_X86_64_ONLY_IMAGE_ID), `${name} iPXE must not be offered the x86_64-only image:\n${menu}`);
          assert.equal(menuKernel(menu, LAB_IMAGE_ID), kernel, `${name} iPXE should boot ${kernel}:\n${menu}`);
        }
      });
    });

    it('UEFI ia32: OVMF32 boots ipxe32.efi, whose menu boots the i386 spec and hides the x86_64-only entry', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const skip = await firmwareSkipReason('efi32', (await sharedSetup()).ipxe);
      // A missing ipxe32.efi is the project's state (Debian ships none), not this machine's: allow-listed for CI.
      if (skip) return t.skip(skipOrFail(`netboot-efi32-${skip.missing}`, skip.reason));
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const { wait, story } = await bootToInitrd(t, lab, 'efi32');
        await assertBootedImage('efi32', 'i386', wait, story);
        await assertMenuHidesX86Only(lab, 'efi32', story);
      });
    });

    it("UEFI arm64 with bootstation's own arm64 iPXE: its menu boots the arm64 spec and hides the x86_64-only entry", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { ipxe } = await sharedSetup();
      const skip = await firmwareSkipReason('arm64', ipxe);
      if (skip?.missing === 'package') return t.skip(skipOrFail('netboot-arm64-package', skip.reason));
      // Debian ships no arm64 iPXE and CI cannot build one: the stand-in tests below prove everything up to it.
      if (skip || ipxe.kind !== 'own-build') {
        return t.skip(skipOrFail('netboot-arm64-ipxe-binary', `UEFI arm64 through iPXE needs bootstation's own snp-arm64.efi in ${ipxe.dir} (Debian ships no arm64 iPXE)`));
      }
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const { wait, story } = await bootToInitrd(t, lab, 'arm64');
        await assertBootedImage('arm64', 'arm64', wait, story);
        await assertMenuHidesX86Only(lab, 'arm64', story);
      });
    });
  });

  describe('UEFI x64 HTTP Boot: OVMF with PXE off loads ipxe.efi over HTTP, with no TFTP at all', { concurrency: true }, () => {
    let lab: Lab | undefined;
    before(() => keepLogsOnFailure(async () => void (lab = await openLab('bse2eh', { proxyDhcp: true }))));
    after(() => lab?.close());

    it('boots the amd64 spec; bootstation offered an http:// URL, served ipxe.efi to UefiHttpBoot and read no TFTP request', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const skip = await firmwareSkipReason('efi-http', (await sharedSetup()).ipxe);
      if (skip) return t.skip(skipOrFail(`netboot-efi-http-${skip.missing}`, skip.reason));
      await keepLogsOnFailure(async () => {
        assert.ok(lab);
        const { wait, story } = await bootToInitrd(t, lab, 'efi-http');
        await assertBootedImage('efi-http', 'amd64', wait, story);
        await assertHttpBootOnly(lab, 'ipxe.efi', story);
      });
    });
  });

  // Debian ships no arm64 iPXE and no ipxe32.efi, and CI cannot build iPXE: GRUB, packed at test time from Debian's
  // grub-efi-arm64-bin or grub-efi-ia32-bin, stands in for them. It proves firmware → ProxyDHCP (arch 11 or 19, 6)
  // → TFTP or HTTP Boot → an EFI program → bootstation's HTTP files → the marker kernel of that CPU; GRUB's HTTP
  // client, written by nobody here, reads Content-Length only in that spelling. The iPXE menu step is the own-build
  // tests above.
  const standInVms = [
    {
      firmware: 'arm64',
      prefix: 'bse2ea',
      title: 'UEFI arm64 PXE with a GRUB stand-in for snp-arm64.efi: AAVMF (arch 11) reads it over TFTP, GRUB loads the arm64 kernel over HTTP',
    },
    {
      firmware: 'arm64-http',
      prefix: 'bse2eah',
      title: 'UEFI arm64 HTTP Boot with a GRUB stand-in for snp-arm64.efi: AAVMF with PXE off (arch 19) loads it over HTTP, with no TFTP at all',
    },
    {
      firmware: 'efi32',
      prefix: 'bse2ei',
      title: 'UEFI ia32 PXE with a GRUB stand-in for ipxe32.efi: OVMF32 (arch 6) reads it over TFTP, GRUB loads the i386 kernel over HTTP',
    },
  ] as const;
  for (const { firmware, prefix, title } of standInVms) {
    const platform = labPlatform(firmware);
    const arch = labArchOfCpu(platform.cpu);
    describe(title, { concurrency: true }, () => {
      let lab: Lab | undefined;
      before(() =>
        keepLogsOnFailure(async () => {
          const { standIn } = await sharedSetup();
          if ('dataDir' in standIn) lab = await openLab(prefix, { proxyDhcp: true, dataDir: standIn.dataDir });
        }),
      );
      after(() => lab?.close());

      it(`boots the ${arch} marker kernel through the stand-in`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
        const { standIn } = await sharedSetup();
        if ('skip' in standIn) return t.skip(skipOrFail('netboot-stand-in-package', standIn.skip));
        const skip = await firmwareSkipReason(firmware, await findIpxeBinaries(join(standIn.dataDir, 'ipxe')));
        if (skip) return t.skip(skipOrFail(`netboot-${firmware}-${skip.missing}`, skip.reason));
        await keepLogsOnFailure(async () => {
          assert.ok(lab);
          const { wait, story } = await bootToInitrd(t, lab, firmware);
          assert.ok(cleanSerialText(wait.serial).includes(`${GRUB_STAND_IN_BANNER} GRUB stands in for ${platform.firstStage}`), `${firmware}: the GRUB stand-in should have run\n${story}`);
          await assertBootedImage(firmware, arch, wait, story);
          if (labTransport(firmware) === 'http') await assertHttpBootOnly(lab, platform.firstStage, story);
          // The control for the HTTP Boot test's "no TFTP": the same log shows PXE's TFTP read.
          else assert.ok((await tftpReads(lab)).includes(platform.firstStage), `${firmware}: bootstation should log the TFTP read of ${platform.firstStage}\n${story}`);
        });
      });
    });
  }

  // The lab must catch real regressions. The seed's ProxyDHCP (dnsmasq with
  // `dhcp-boot=tag:ipxe,http://…/boot.ipxe` and no server address) leaves siaddr empty, which iPXE
  // rejects ("Nothing to boot"; ../shared/fixtures/pcap/bios-ipxe-rom-vs-dnsmasq-proxy-no-siaddr.pcap).
  // The same dnsmasq config with the server address added is the control: only siaddr differs.
  // (Measured the other way round too: bootstation itself with siaddr forced to 0.0.0.0 in
  // src/dhcp/proxy-answer.ts fails the BIOS test above after 21 s, "Nothing to boot", furthest step DHCP.)
  describe('a ProxyDHCP answer without siaddr fails the BIOS boot', { concurrency: true }, () => {
    const labs: Lab[] = [];
    after(() => Promise.all(labs.map((lab) => lab.close())));

    async function bootWithSeedProxy(prefix: string, siaddr: boolean, timeoutMs: number) {
      const lab = await openLab(prefix, { proxyDhcp: false });
      labs.push(lab);
      const conf = join(lab.workDir, 'seed-proxy-dnsmasq.conf');
      await writeFile(conf, renderSeedProxyConfig({ serverAddress: siaddr ? NAS : undefined, logFile: join(lab.workDir, 'seed-proxy.log'), pidFile: join(lab.workDir, 'seed-proxy.pid') }));
      await lab.startIn('nas', 'seed-proxy-dnsmasq', ['dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`]);
      return { lab, ...(await bootVm(lab, 'bios', timeoutMs)) };
    }

    it('without siaddr the iPXE ROM finds nothing to boot and never asks bootstation for /boot.ipxe', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await keepLogsOnFailure(async () => {
        const { lab, wait, story } = await bootWithSeedProxy('bse2eb', false, BROKEN_TIMEOUT_MS);
        t.diagnostic(`no siaddr: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s`);
        assert.equal(wait.report.marker, false, `the VM booted although siaddr was missing\n${story}`);
        assert.equal(furthestBootStep(wait.serial), 'DHCP', story);
        assert.match(cleanSerialText(wait.serial), /Nothing to boot/, story);
        assert.deepEqual(await httpRequests(lab, '/boot.ipxe'), [], story);
      });
    });

    it('control: the same dnsmasq answer with siaddr boots to the test initrd', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await keepLogsOnFailure(async () => {
        const { wait, story } = await bootWithSeedProxy('bse2ec', true, BOOT_TIMEOUT_MS);
        t.diagnostic(`with siaddr: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s`);
        assert.ok(wait.report.marker, `the control VM did not reach the test initrd\n${story}`);
        await assertBootedImage('bios', 'i386', wait, story);
      });
    });
  });
});

/** HTTP Boot alone: the ProxyDHCP offer was an http:// URL, UEFI's HTTP client fetched the binary, and nothing came over TFTP. */
async function assertHttpBootOnly(lab: Lab, binary: string, story: string): Promise<void> {
  const offers = (await bootstationLogLines(lab)).flatMap((line) => (typeof line['offered'] === 'object' && line['offered'] ? [String((line['offered'] as { file?: unknown }).file)] : []));
  assert.ok(offers.includes(`${SERVER_URL}/ipxe/${binary}`), `ProxyDHCP should offer ${SERVER_URL}/ipxe/${binary}; it offered ${JSON.stringify(offers)}\n${story}`);
  const gets = (await httpRequests(lab, `/ipxe/${binary}`)).filter((line) => line['method'] === 'GET' && line['status'] === 200);
  assert.ok(gets.some((line) => String(line['userAgent']).startsWith('UefiHttpBoot/')), `the firmware's HTTP Boot client (UefiHttpBoot) should GET /ipxe/${binary}; GETs: ${JSON.stringify(gets)}\n${story}`);
  assert.deepEqual(await tftpReads(lab), [], `HTTP Boot must not use TFTP\n${story}`);
}

/** The menu a VM's iPXE fetched, fetched again by the URL (with its ${platform} and ${buildarch}) in bootstation's log. */
async function menuFetchedBy(lab: Lab, firmware: LabFirmware, story: string): Promise<string> {
  const mac = lab.topology.vms[firmware].mac;
  // iPXE percent-encodes the MAC's colons in the query.
  const fetched = (await httpRequests(lab, '/menu.ipxe')).map((line) => String(line['url'])).find((url) => decodeURIComponent(url).includes(`mac=${mac}&`));
  assert.ok(fetched, `${firmware}: iPXE should have fetched /menu.ipxe with mac=${mac}\n${story}`);
  return fetchInLab(lab, `${SERVER_URL}${fetched}`);
}

/** The menu a VM's iPXE fetched does not offer the x86_64-only image. */
async function assertMenuHidesX86Only(lab: Lab, firmware: LabFirmware, story: string): Promise<void> {
  const menu = await menuFetchedBy(lab, firmware, story);
  assert.ok(!menuOffers(menu, LAB_X86_64_ONLY_IMAGE_ID), `${firmware}: its menu must not offer the x86_64-only image:\n${menu}\n${story}`);
}

after(async () => {
  if (!shared) return;
  const { workDir } = await shared;
  if (failed) process.stderr.write(`e2e: kept the lab's logs and serial consoles in ${workDir}\n`);
  else await rm(workDir, { recursive: true, force: true });
});

/** dnsmasq as the seed setup ran it: ProxyDHCP that sends iPXE to /boot.ipxe, with or without a server address. */
function renderSeedProxyConfig(options: { serverAddress: string | undefined; logFile: string; pidFile: string }): string {
  return [
    'port=0',
    'interface=eth0',
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'user=root',
    `pid-file=${options.pidFile}`,
    `log-facility=${options.logFile}`,
    'log-dhcp',
    'dhcp-range=10.77.0.0,proxy',
    'dhcp-match=set:ipxe,175',
    `dhcp-boot=tag:ipxe,http://${NAS}:${HTTP_PORT}/boot.ipxe${options.serverAddress ? `,,${options.serverAddress}` : ''}`,
    'pxe-service=tag:!ipxe,x86PC,"Network boot",undionly.kpxe',
    '',
  ].join('\n');
}
