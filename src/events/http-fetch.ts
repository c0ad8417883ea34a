// What an HTTP request path is to a booting client: its boot script, the menu, an iPXE binary or an image's
// kernel, initrd or other file. Pure: the path and the configured images in, a role out.
import type { ImageConfig } from '../config/model.ts';
import type { HttpFetchRole } from './model.ts';

/** The role of a path and, for image files, the image id. */
export interface HttpFetchKind {
  role: HttpFetchRole;
  image?: string;
}

/** Classifies a request path (without its query, still percent-encoded); undefined for paths that are not part of a boot. */
export function classifyHttpFetch(rawPath: string, images: readonly Pick<ImageConfig, 'id' | 'kernel' | 'initrds' | 'firmwareBoot'>[]): HttpFetchKind | undefined {
  if (rawPath === '/boot.ipxe') return { role: 'boot-script' };
  if (rawPath === '/menu.ipxe') return { role: 'menu' };
  if (rawPath.startsWith('/ipxe/')) return { role: 'ipxe-binary' };
  if (!rawPath.startsWith('/images/')) return undefined;
  const tail = rawPath.slice('/images/'.length);
  const slash = tail.indexOf('/');
  if (slash <= 0) return undefined;
  const image = images.find((candidate) => candidate.id === tail.slice(0, slash));
  if (!image) return undefined;
  let file: string;
  try {
    file = decodeURIComponent(tail.slice(slash + 1));
  } catch {
    return { role: 'image-file', image: image.id };
  }
  const specs = [image, ...Object.values(image.firmwareBoot ?? {})];
  if (specs.some((spec) => spec.kernel === file)) return { role: 'kernel', image: image.id };
  if (specs.some((spec) => spec.initrds.includes(file))) return { role: 'initrd', image: image.id };
  return { role: 'image-file', image: image.id };
}
