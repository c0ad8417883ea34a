// The iPXE build targets as --targets and the Docker build argument TARGETS name them, and the --target
// arguments that hand their make goals to scripts/build-ipxe.sh; the targets are rows of src/boot/platform.ts.
import { PLATFORMS } from '../boot/platform.ts';

/** One target name: "bios", "efi64", "efi32", "arm64". */
export type IpxeTargetName = (typeof PLATFORMS)[number]['build']['target'];

/** Target names in the platform table's order. */
export const IPXE_TARGET_NAMES: readonly IpxeTargetName[] = PLATFORMS.map((platform) => platform.build.target);

/** Every target, built when --targets (or the Docker build argument TARGETS) is not given. */
export const DEFAULT_TARGETS: readonly IpxeTargetName[] = IPXE_TARGET_NAMES;

/** A --targets value that names no known target. */
export class TargetsError extends Error {
  readonly code = 'BOOTSTATION_IPXE_TARGETS';
}

/** Parses a comma-separated --targets value into known targets, in IPXE_TARGET_NAMES order, without repeats. */
export function parseTargets(value: string): IpxeTargetName[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new TargetsError(`--targets is empty; name one or more of ${IPXE_TARGET_NAMES.join(',')}`);
  for (const name of names) {
    if (!IPXE_TARGET_NAMES.some((known) => known === name)) {
      throw new TargetsError(`--targets names "${name.slice(0, 40)}", which is not a target; use a comma-separated list of ${IPXE_TARGET_NAMES.join(',')}`);
    }
  }
  return IPXE_TARGET_NAMES.filter((known) => names.includes(known));
}

/**
 * scripts/build-ipxe.sh's definition of targets, one `--target NAME:CPU:GOAL=FILE[,GOAL=FILE]` pair of
 * arguments each: the script picks the compiler from the CPU and builds the goals in one make run.
 */
export function buildScriptTargetArgs(targets: readonly IpxeTargetName[] = IPXE_TARGET_NAMES): string[] {
  return PLATFORMS.filter((platform) => targets.includes(platform.build.target)).flatMap((platform) => [
    '--target',
    `${platform.build.target}:${platform.cpu}:${platform.build.outputs.map((output) => `${output.make}=${output.file}`).join(',')}`,
  ]);
}
