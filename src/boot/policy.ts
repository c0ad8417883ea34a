// The boot policy every protocol asks, after pixiecore's Booter: whether a TFTP name or an HTTP path is served, from
// which folder and in which role, or why not. Pure apart from openBootFile, which opens what a verdict names.
// What a client gets first is its platform row's first stage (platform.ts), which ProxyDHCP hands out
// (dhcp/proxy-answer.ts); iPXE then chains /boot.ipxe and /menu.ipxe (scripts.ts); every file after that is decided here.
import { bootSpecsOf, type BootstationConfig, type ImageConfig } from '../config/model.ts';
import { openSafeFile, splitPlainPath, splitUrlPath, type PathRefusal, type SafeFileResult } from '../files/safe-path.ts';

/** What a request is to a booting client: its boot script, the menu, the iPXE folder, or an image's files. */
export type BootRole = 'boot-script' | 'menu' | 'ipxe-binary' | 'kernel' | 'initrd' | 'image-file';

/** Why a path serves nothing: logged, never told to the client (which gets "not found"). */
export type BootRefusal = PathRefusal | 'unknown-image';

/**
 * The protocol a path arrived by, which says only how names are spelt, never which files exist:
 * - tftp: plain names matched ignoring case (DOS-era clients upper-case them), the iPXE folder at the root;
 * - http: still percent-encoded URL paths (so that %2e%2e and %2f are judged, not decoded away), exact case.
 */
export type BootProtocol = 'tftp' | 'http';

/** The two folder trees a boot path can name: the iPXE binaries' folder, and images/<id>/ (one folder per image). */
export type BootArea = 'ipxe' | 'images';

/** A path inside one area, as the protocol spells it. */
export interface BootFileRequest {
  protocol: BootProtocol;
  area: BootArea;
  /** Relative to the area: "undionly.kpxe", "debian/linux" (the image id first). */
  path: string;
}

/** The iPXE folder as the policy needs it (IpxeBinaries is one): where it is, and the first-stage binaries in it by name. */
export interface IpxeFolder {
  dir: string;
  files: ReadonlyMap<string, string>;
}

/**
 * The answer to one requested path. `role` and `image` are set whenever the path is a boot fetch at all (every path
 * of the iPXE folder; a known image's file), also when refused, so that a refused kernel fetch is still reported.
 */
export type BootFileVerdict =
  | { served: true; role: BootRole; image?: string; dir: string; segments: readonly string[]; caseInsensitive: boolean; trusted: boolean }
  | { served: false; role?: BootRole; image?: string; reason: BootRefusal };

// iPXE 2.0 EFI builds run an autoexec.ipxe found where they were loaded from (TFTP or HTTP); on top of our embedded
// script that corrupts the initrd, so none is ever served, and "not found" goes out at once.
const AUTOEXEC_SCRIPT = 'autoexec.ipxe';

const IMAGES_PREFIX = 'images/';

/** Where a TFTP file name points: `images/<id>/…` (any case) is an image's folder, every other name the iPXE folder. */
export function tftpBootRequest(name: string): BootFileRequest {
  if (name.slice(0, IMAGES_PREFIX.length).toLowerCase() === IMAGES_PREFIX) return { protocol: 'tftp', area: 'images', path: name.slice(IMAGES_PREFIX.length) };
  return { protocol: 'tftp', area: 'ipxe', path: name };
}

/** Decides whether a requested path is served, from where and in which role; the same path gets the same verdict over TFTP and HTTP. */
export function decideBootFile(request: BootFileRequest, config: Pick<BootstationConfig, 'images'>, ipxe: IpxeFolder): BootFileVerdict {
  const caseInsensitive = request.protocol === 'tftp';
  const fold = (name: string): string => (caseInsensitive ? name.toLowerCase() : name);
  const split = (path: string) => (request.protocol === 'http' ? splitUrlPath(path) : splitPlainPath(path));

  if (request.area === 'ipxe') {
    const role = 'ipxe-binary';
    const segments = split(request.path);
    if (!segments.ok) return { served: false, role, reason: segments.reason };
    const [name, ...rest] = segments.segments;
    if (name !== undefined && rest.length === 0) {
      // First-stage binaries by exact name, and followed out of the folder: Debian's stock ones are symlinks into /boot.
      const binary = fold(name);
      if (ipxe.files.has(binary)) return { served: true, role, dir: ipxe.dir, segments: [binary], caseInsensitive: false, trusted: true };
      if (binary.toLowerCase() === AUTOEXEC_SCRIPT) return { served: false, role, reason: 'not-found' };
    }
    return { served: true, role, dir: ipxe.dir, segments: segments.segments, caseInsensitive, trusted: false };
  }

  // The image id is judged like the rest of the path (still encoded over HTTP: "images/%2e%2e/x" is refused).
  const slash = request.path.indexOf('/');
  const id = split(slash < 0 ? request.path : request.path.slice(0, slash));
  if (!id.ok) return { served: false, reason: id.reason };
  // A chain image has no folder: its item runs a script from elsewhere.
  const image = config.images.find((candidate) => candidate.id === fold(id.segments[0] ?? '') && candidate.chain === undefined);
  if (!image) return { served: false, reason: 'unknown-image' };
  // An image's folder itself ("images/debian") is no file of it.
  if (slash < 0) return { served: false, reason: 'empty-segment' };
  const file = split(request.path.slice(slash + 1));
  if (!file.ok) return { served: false, role: 'image-file', image: image.id, reason: file.reason };
  const role = imageFileRole(image, file.segments.join('/'));
  return { served: true, role, image: image.id, dir: image.dir, segments: file.segments, caseInsensitive, trusted: false };
}

/** A file a verdict served, found on disk, or why not. */
export type BootFileResult = SafeFileResult | { ok: false; reason: BootRefusal };

/** Opens what a verdict serves: a regular file really inside its folder (trusted binaries may link out of it), or the refusal. */
export async function openBootFile(verdict: BootFileVerdict): Promise<BootFileResult> {
  if (!verdict.served) return { ok: false, reason: verdict.reason };
  return openSafeFile(verdict.dir, verdict.segments, { caseInsensitive: verdict.caseInsensitive, followOutside: verdict.trusted });
}

/** Finds the file a TFTP client names (a first-stage binary, `images/<id>/<path>`, or another file of the iPXE folder). */
export async function findBootFile(name: string, ipxe: IpxeFolder, config: Pick<BootstationConfig, 'images'>): Promise<BootFileResult> {
  return openBootFile(decideBootFile(tftpBootRequest(name), config, ipxe));
}

// A kernel or initrd of any of the image's boot specs (the default one and each firmware's own), else another file.
function imageFileRole(image: ImageConfig, file: string): BootRole {
  const specs = bootSpecsOf(image);
  if (specs.some((spec) => spec.kernel === file)) return 'kernel';
  if (specs.some((spec) => spec.initrds.includes(file))) return 'initrd';
  return 'image-file';
}
