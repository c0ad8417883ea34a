import { resolve } from 'node:path';
import { findMissingBootFiles } from '../boot/image-files.ts';
import { loadConfigFile } from '../config/load.ts';
import type { BootstationConfig } from '../config/model.ts';
import { redactUrlsIn } from '../config/redact-url.ts';
import { imageLayout, readFailure, readInstalledManifest } from '../ingest/install.ts';
import { describeVerification } from '../ingest/ingest-image.ts';
import { formatBytes } from '../text/format.ts';
import type { CommandOutput } from './ingest.ts';

/** One row of `bootstation images` (also its --json form). */
export interface ImageStatus {
  id: string;
  label: string;
  source: 'url' | 'path' | 'dir';
  state: 'ready' | 'not ingested' | 'missing files' | 'failed';
  version: string | null;
  /** Bytes of the installed files (ingested images only). */
  size: number | null;
  lastIngest: string | null;
  verification: string | null;
  missingFiles: string[];
  failure: { at: string; code: string; message: string } | null;
}

/** The state of every image in images.yaml: on disk, from its manifest, and from its last failed ingest. */
export async function imageStatuses(configPath: string, dataDir: string): Promise<ImageStatus[]> {
  return imageStatusesOf(await loadConfigFile(configPath, { dataDir }), dataDir);
}

/**
 * The same for a configuration already loaded (the server's live one: a request must not re-read and parse
 * images.yaml). Failure messages are shown with source URLs redacted: they may carry credentials.
 */
export async function imageStatusesOf(
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
      const failedSince = failure && (!manifest || failure.at > manifest.ingestedAt) ? failure : undefined;
      const absent = missing.get(image.id) ?? [];
      const state: ImageStatus['state'] = failedSince ? 'failed' : absent.length === 0 ? 'ready' : image.ingest && !manifest ? 'not ingested' : 'missing files';
      return {
        id: image.id,
        label: image.label,
        source: image.ingest ? image.ingest.from.kind : 'dir',
        state,
        version: manifest?.version ?? image.ingest?.version ?? null,
        size: manifest ? manifest.files.reduce((sum, file) => sum + file.size, 0) : null,
        lastIngest: manifest?.ingestedAt ?? null,
        verification: manifest ? redactUrlsIn(describeVerification(manifest)) : null,
        missingFiles: absent,
        failure: failedSince ? { ...failedSince, message: redactUrlsIn(failedSince.message) } : null,
      };
    }),
  );
}

/** `bootstation images`: a table of every image's state, or JSON with --json. */
export async function runImages(options: { configPath: string; dataDir: string; json: boolean }, output: Pick<CommandOutput, 'stdout'> = { stdout: (t) => void process.stdout.write(t) }): Promise<number> {
  const statuses = await imageStatuses(options.configPath, resolve(options.dataDir));
  if (options.json) {
    output.stdout(JSON.stringify(statuses, null, 2) + '\n');
    return 0;
  }
  const rows = [
    ['ID', 'STATE', 'VERSION', 'SIZE', 'LAST INGEST', 'SOURCE'],
    ...statuses.map((s) => [
      s.id,
      s.state,
      s.version ?? '-',
      s.size === null ? '-' : formatBytes(s.size),
      s.lastIngest ? s.lastIngest.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '-',
      s.source,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  for (const status of statuses) {
    if (status.failure) lines.push(`${status.id}: last ingest failed ${status.failure.at}: ${status.failure.message}`);
    else if (status.state === 'missing files') lines.push(`${status.id}: missing ${status.missingFiles.join(', ')}`);
    if (status.verification?.startsWith('archive NOT')) lines.push(`${status.id}: ${status.verification}`);
  }
  output.stdout(lines.join('\n') + '\n');
  return 0;
}
