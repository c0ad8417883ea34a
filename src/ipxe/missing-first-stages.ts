// Which platforms' first-stage binaries are missing from the iPXE binaries served, and the command that adds
// each one; the doctor and the dashboard say the same. Pure.
import { PLATFORMS } from '../boot/platform.ts';
import type { IpxeBinaries } from './binaries.ts';

/** A platform whose first stage is not served: its clients get no ProxyDHCP answer. */
export interface MissingFirstStage {
  /** The platform table's id, e.g. "efi-arm64". */
  platform: string;
  /** The platform table's name for people, e.g. "arm64 UEFI". */
  displayName: string;
  file: string;
  /** BIOS and x64 UEFI: the doctor fails without them; else it warns. */
  required: boolean;
  /** The command that adds it, e.g. "run `bootstation ipxe build --targets arm64`". */
  fix: string;
}

/**
 * The platforms, in table order, whose first stage is missing from `ipxe`. Only bootstation's own build can gain one
 * target: a build writes data/ipxe, which then shadows every stock binary of /usr/lib/ipxe (and custom binaries have
 * no manifest to keep), so for those the fix is a whole build.
 */
export function missingFirstStages(ipxe: Pick<IpxeBinaries, 'kind' | 'files'>): MissingFirstStage[] {
  return PLATFORMS.filter((platform) => !ipxe.files.has(platform.firstStage)).map((platform) => {
    let fix: string;
    if (ipxe.kind === 'own-build') fix = `run \`bootstation ipxe build --targets ${platform.build.target}\``;
    else if (ipxe.kind === 'stock' && platform.inDebianIpxe) fix = 'run `bootstation ipxe build` (every platform), or `apt-get install ipxe` for the stock one';
    else if (ipxe.kind === 'stock') fix = `run \`bootstation ipxe build\` (every platform; Debian's stock iPXE has no ${platform.firstStage})`;
    else fix = `put your ${platform.firstStage} next to the others, or run \`bootstation ipxe build\` (every platform) to serve bootstation's own`;
    return { platform: platform.id, displayName: platform.displayName, file: platform.firstStage, required: platform.required, fix };
  });
}
