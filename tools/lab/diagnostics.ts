// Explains a failed lab boot: the furthest step the VM's console shows and the tails of its logs.
import { tailFile } from './processes.ts';
import type { Lab, LabVm, SerialWait } from './lab.ts';
import { cleanSerialText, firmwareGaveUp, furthestBootStep } from './serial-report.ts';

/**
 * What a red CI run prints for a VM that did not boot as expected: how waiting ended, the furthest
 * step the console shows (firmware, DHCP, TFTP, HTTP, kernel, initrd), and the tails of the VM's
 * serial console, bootstation's log and the router's DHCP log.
 */
export async function describeBoot(lab: Lab, vm: LabVm, wait: SerialWait): Promise<string> {
  const seconds = (wait.elapsedMs / 1000).toFixed(0);
  const ended = {
    matched: `reached what was expected after ${seconds} s`,
    'vm-exited': `QEMU exited (${vm.process.hasExited() ? String(await vm.process.exited) : '?'}) after ${seconds} s`,
    'firmware-gave-up': `the firmware gave up after ${seconds} s: "${firmwareGaveUp(wait.serial) ?? ''}"`,
    timeout: `no result within ${seconds} s`,
  }[wait.outcome];
  const serialLines = cleanSerialText(wait.serial).split('\n').filter((line) => line.trim() !== '');
  return [
    `${vm.firmware} VM: ${ended}; furthest step on its console: ${furthestBootStep(wait.serial) ?? 'none (no output)'}`,
    `--- serial console, last 40 lines (${vm.serialLog})`,
    serialLines.slice(-40).join('\n'),
    `--- bootstation log, last 25 lines (${lab.bootstationLog})`,
    await tailFile(lab.bootstationLog, 25),
    `--- router DHCP log, last 15 lines (${lab.routerLog})`,
    await tailFile(lab.routerLog, 15),
    `--- QEMU output (${vm.process.logFile})`,
    await tailFile(vm.process.logFile, 10),
  ].join('\n');
}
