// The layout of the data directory: every path under data/ is named here, and only here.
import { join } from 'node:path';

/** The folders of the data directory. */
export interface DataLayout {
  /** data/ipxe: the first-stage iPXE binaries served by TFTP and HTTP, with their manifest. */
  ipxe: string;
  /** data/cache: downloaded archives, kept so that an interrupted or repeated ingest resumes or reuses them. */
  cache: string;
  /** data/cache/ipxe: downloaded iPXE source releases for `bootstation ipxe build`. */
  ipxeSourceCache: string;
  /** data/images: one folder per image (a symlink to its installed version once ingested). */
  images: string;
}

/** The folders of `dataDir`. */
export function dataLayout(dataDir: string): DataLayout {
  const cache = join(dataDir, 'cache');
  return { ipxe: join(dataDir, 'ipxe'), cache, ipxeSourceCache: join(cache, 'ipxe'), images: join(dataDir, 'images') };
}

/** Where one image's files live under the data directory. */
export interface ImageLayout {
  id: string;
  imagesDir: string;
  /** data/images/<id>: the served path (a symlink once ingested). */
  link: string;
  /** data/images/.versions: the installed versions the links point at. */
  versionsDir: string;
  /** Records the last failed ingest, for `bootstation images`. */
  failureFile: string;
  /** Set by a rollback: the releases the runner must not install again by itself (see install.ts rollbackImage). */
  pinFile: string;
  lockFile: string;
}

/** The folder under data/images that holds the installed versions; links name their target relative to data/images. */
export const IMAGE_VERSIONS_DIR = '.versions';

/** The paths of image `id` under `dataDir`. */
export function imageLayout(dataDir: string, id: string): ImageLayout {
  const imagesDir = dataLayout(dataDir).images;
  return {
    id,
    imagesDir,
    link: join(imagesDir, id),
    versionsDir: join(imagesDir, IMAGE_VERSIONS_DIR),
    failureFile: join(imagesDir, `.${id}.failed.json`),
    pinFile: join(imagesDir, `.${id}.pinned.json`),
    lockFile: join(imagesDir, `.${id}.lock`),
  };
}
