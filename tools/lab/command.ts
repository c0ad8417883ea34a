// `bootstation lab` itself: builds the lab, boots one VM and streams its console (loaded by src/cli/lab.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dataLayout } from '../../src/files/data-dir.ts';
import { findIpxeBinaries } from '../../src/ipxe/binaries.ts';
import { labArchOfCpu } from './architectures.ts';
import { labImageArgs, prepareLabImage, renderLabConfig } from './lab-image.ts';
import { followFile, startLab, waitForSerial, type Lab } from './lab.ts';
import { firmwareSkipReason, labSkipReason } from './preflight.ts';
import { ensureTestKernel } from './test-kernel.ts';
import { LAB_FIRMWARE, labPlatform } from './topology.ts';

/** Options of `bootstation lab`. */
export interface LabCommandOptions {
  /** The --firmware value; undefined: bios. */
  firmware: string | undefined;
  /** The images.yaml to serve; undefined: the lab's own marker image (test kernel and initrd). */
  configPath?: string;
  dataDir: string;
  /** The CLI entry point the lab runs as `bootstation serve` in its NAS namespace. */
  main: string;
}

// Namespace prefix of the user's lab; the e2e tests use their own, so both can run at once.
const PREFIX = 'bslab';

/**
 * `bootstation lab`: builds the VM lab (router, NAS running bootstation, switch), powers on one VM
 * of the chosen firmware and streams its serial console to stdout until the VM powers off or the
 * user presses Ctrl-C; then removes everything it created.
 */
export async function runLab(options: LabCommandOptions): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`bootstation lab: ${line}\n`);
  const firmware = LAB_FIRMWARE.find((kind) => kind === (options.firmware ?? 'bios'));
  if (!firmware) {
    say(`--firmware must be one of ${LAB_FIRMWARE.join(', ')}, not "${options.firmware}"`);
    return 2;
  }
  const skip = await labSkipReason();
  if (skip) {
    say(skip);
    return 1;
  }
  const dataDir = resolve(options.dataDir);
  const firmwareSkip = await firmwareSkipReason(firmware, await findIpxeBinaries(dataLayout(dataDir).ipxe));
  if (firmwareSkip) {
    say(firmwareSkip.reason);
    return 1;
  }

  const workDir = await mkdtemp(join(tmpdir(), 'bootstation-lab-'));
  let configPath = options.configPath && resolve(options.configPath);
  if (!configPath) {
    // The kernel of the CPU the firmware's iPXE reports (BIOS iPXE is an i386 build, so BIOS boots i386 too).
    const arch = labArchOfCpu(labPlatform(firmware).cpu);
    say(`no --config: booting the lab image (Debian's ${arch} kernel and a test initrd that fetches a file and checks it)`);
    const image = await prepareLabImage(join(workDir, 'image'), await ensureTestKernel(arch, say));
    configPath = join(workDir, 'images.yaml');
    await writeFile(configPath, renderLabConfig({ dir: image.dir, archs: image.archs }, 5));
    say(`kernel arguments: ${labImageArgs(arch)}`);
  }

  let lab: Lab | undefined;
  let interrupted = false;
  const interrupt = (): void => {
    interrupted = true;
    say('stopping');
    void lab?.close();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let booted = false;
  try {
    lab = await startLab({ prefix: PREFIX, workDir });
    await lab.startBootstation({ command: [process.execPath, options.main], configPath, dataDir });
    const { namespaces, subnet } = lab.topology;
    say(`router ${subnet.router} (namespace ${namespaces.router}), bootstation ${subnet.nas} (namespace ${namespaces.nas}), logs in ${workDir}`);
    const vm = await lab.startVm(firmware);
    say(`${firmware} VM powered on (QEMU with TCG: expect 30-60 s to a kernel); Ctrl-C ends the lab`);
    const stopFollowing = followFile(vm.serialLog, (chunk) => process.stdout.write(chunk));
    const wait = await waitForSerial(vm, () => false, Number.POSITIVE_INFINITY);
    await stopFollowing();
    // The guest's escape sequences may have turned off line wrapping and left colours set.
    if (process.stdout.isTTY) process.stdout.write('\x1b[?7h\x1b[0m\n');
    booted = wait.report.marker;
    if (wait.report.marker) say(`the lab image booted in ${(wait.elapsedMs / 1000).toFixed(0)} s${wait.report.netboot?.ok ? ' and fetched its file with a matching checksum' : ''}`);
    else if (wait.outcome === 'firmware-gave-up') say(`the firmware gave up; bootstation's log: ${lab.bootstationLog}`);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await lab?.close();
  }
  if (booted && !options.configPath) await rm(workDir, { recursive: true, force: true });
  else say(`logs and serial console kept in ${workDir}`);
  if (interrupted) return 130;
  // Without --config the lab image must reach its marker: then the command doubles as a self-test.
  return options.configPath || booted ? 0 : 1;
}
