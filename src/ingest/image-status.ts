// The state of every configured image: its files on disk, its installed manifest and its last failed ingest.
import { findMissingBootFiles } from '../boot/image-files.ts';
import type { BootstationConfig } from '../config/model.ts';
import { redactUrlsIn } from '../config/redact-url.ts';
import { imageLayout } from '../files/data-dir.ts';
import { describeVerification } from './ingest-image.ts';
import { verificationOf, type Verification } from './manifest.ts';
import { listVersions, readFailure, readInstalledManifest, readPin, type ImageVersion } from './install.ts';

/** The state of one image, as `bootstation images`, doctor and the dashboard show it. */
export interface ImageStatus {
  id: string;
  label: string;
  /** chain: a menu item that runs another iPXE script (no files, always ready). */
  source: 'url' | 'path' | 'dir' | 'chain';
  state: 'ready' | 'not ingested' | 'missing files' | 'failed';
  version: string | null;
  /** Bytes of the installed files (ingested images only). */
  size: number | null;
  lastIngest: string | null;
  verification: string | null;
  /** How the installed archive was verified: signature, checksum-config, checksum-https, checksum-http or insecure. */
  verifiedBy?: Verification | null;
  missingFiles: string[];
  failure: { at: string; code: string; message: string } | null;
  /** The installed versions, newest first: the serving one and those kept for a rollback (ingested images only). */
  versions: ImageVersion[];
  /** Bytes on disk of all its versions (the serving one and the kept ones); null for images not ingested. */
  diskUsed: number | null;
  /** The version a rollback pinned: the server does not install the release it switched away from by itself. */
  pinned: string | null;
}

/**
 * The state of every image of `config` (the caller's loaded or live one: nothing here reads images.yaml).
 * Failure messages are shown with source URLs redacted: they may carry credentials.
 */
export async function readImageStatuses(
  config: BootstationConfig,
  dataDir: string,
  findMissing: (config: BootstationConfig) => Promise<Map<string, string[]>> = findMissingBootFiles,
): Promise<ImageStatus[]> {
  const missing = await findMissing(config);
  return Promise.all(
    config.images.map(async (image): Promise<ImageStatus> => {
      const layout = imageLayout(dataDir, image.id);
      const manifest = image.ingest ? await readInstalledManifest(layout) : undefined;
      const failure = image.ingest ? await readFailure(layout) : undefined;
      const versions = image.ingest ? await listVersions(layout) : [];
      const pin = image.ingest ? await readPin(layout) : undefined;
      const failedSince = failure && (!manifest || failure.at > manifest.ingestedAt) ? failure : undefined;
      const absent = missing.get(image.id) ?? [];
      const state: ImageStatus['state'] = failedSince ? 'failed' : absent.length === 0 ? 'ready' : image.ingest && !manifest ? 'not ingested' : 'missing files';
      return {
        id: image.id,
        label: image.label,
        source: image.chain !== undefined ? 'chain' : image.ingest ? image.ingest.from.kind : 'dir',
        state,
        // A recipe's release: the one found (12.8), not the version: asked for (latest).
        version: manifest?.release?.version ?? manifest?.version ?? image.ingest?.version ?? null,
        size: manifest ? manifest.files.reduce((sum, file) => sum + file.size, 0) : null,
        lastIngest: manifest?.ingestedAt ?? null,
        verification: manifest ? redactUrlsIn(describeVerification(manifest)) : null,
        verifiedBy: manifest ? verificationOf(manifest) : null,
        missingFiles: absent,
        failure: failedSince ? { ...failedSince, message: redactUrlsIn(failedSince.message) } : null,
        versions,
        diskUsed: versions.length > 0 ? versions.reduce((sum, version) => sum + version.size, 0) : null,
        pinned: pin && versions.some((version) => version.serving && version.name === pin.version) ? pin.version : null,
      };
    }),
  );
}
