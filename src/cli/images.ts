// `bootstation images`: prints every image's state as a table or JSON; `images check` looks for new releases,
// `images rollback ID` switches an image back to its previous version.
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { ingestSettingsOf, ingestsAutomatically } from '../config/model.ts';
import { imageLayout } from '../files/data-dir.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { rollbackImage } from '../ingest/install.ts';
import type { Verification } from '../ingest/manifest.ts';
import { formatBytes } from '../text/format.ts';
import { ingestAll, type CommandOutput } from './ingest.ts';
import { UnknownImageError } from './unknown-image-error.ts';

const processOutput: CommandOutput = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
};

/**
 * `bootstation images check [ID...]`: ingests the named images (every one the server ingests by itself when none)
 * if their release changed, keeping a version a rollback pinned; exit 1 when any failed.
 */
export async function runImagesCheck(options: { configPath: string; dataDir: string; ids: readonly string[] }, output: CommandOutput = processOutput): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const config = await loadConfigFile(options.configPath, { dataDir });
  const settings = ingestSettingsOf(config);
  const images =
    options.ids.length === 0
      ? config.images.filter((image) => ingestsAutomatically(image, settings))
      : options.ids.map((id) => {
          const image = config.images.find((candidate) => candidate.id === id);
          if (!image?.ingest) throw new UnknownImageError(`images.yaml has no image "${id}" with a url or path source; \`bootstation images\` lists them`);
          return image;
        });
  const results: Array<{ id: string; status: string; detail?: string }> = [];
  await ingestAll(images, dataDir, { force: false, keepVersions: settings.keepVersions, respectPin: true }, output, results);
  const count = (status: string): number => results.filter((r) => r.status === status).length;
  output.stdout(`check: ${count('installed')} new, ${count('up to date')} unchanged, ${count('failed')} failed\n`);
  for (const failed of results.filter((r) => r.status === 'failed')) output.stdout(`  ${failed.id}: ${failed.detail}\n`);
  return count('failed') > 0 ? 1 : 0;
}

/** `bootstation images rollback ID`: serves the image's previous version again and pins it; exit 1 when there is none. */
export async function runImagesRollback(options: { configPath: string; dataDir: string; id: string }, output: Pick<CommandOutput, 'stdout' | 'stderr'> = processOutput): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const config = await loadConfigFile(options.configPath, { dataDir });
  if (!config.images.find((image) => image.id === options.id)?.ingest) {
    throw new UnknownImageError(`images.yaml has no image "${options.id}" with a url or path source; only ingested images have versions to roll back to`);
  }
  try {
    const { from, to } = await rollbackImage(imageLayout(dataDir, options.id));
    output.stdout(`${options.id}: serving ${to} again (was ${from}); the server keeps it until a newer release appears or you run bootstation ingest ${options.id}\n`);
    return 0;
  } catch (error) {
    if (!(error as { code?: unknown }).code?.toString().startsWith('INGEST_')) throw error;
    output.stderr(`bootstation: ${(error as Error).message}\n`);
    return 1;
  }
}

// How the archive was verified, in the table's words.
const VERIFIED_WORDS: Readonly<Record<Verification, string>> = {
  signature: 'signature',
  'checksum-config': 'checksum in images.yaml',
  'checksum-https': 'checksum over HTTPS',
  'checksum-http': 'checksum over HTTP',
  insecure: 'insecure',
};

/** `bootstation images`: a table of every image's state, or JSON with --json. */
export async function runImages(options: { configPath: string; dataDir: string; json: boolean }, output: Pick<CommandOutput, 'stdout'> = { stdout: (t) => void process.stdout.write(t) }): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const statuses = await readImageStatuses(await loadConfigFile(options.configPath, { dataDir }), dataDir);
  if (options.json) {
    output.stdout(JSON.stringify(statuses, null, 2) + '\n');
    return 0;
  }
  const rows = [
    ['ID', 'STATE', 'VERSION', 'SIZE', 'ON DISK', 'LAST INGEST', 'SOURCE', 'VERIFIED'],
    ...statuses.map((s) => [
      s.id,
      s.state,
      s.version ?? '-',
      s.size === null ? '-' : formatBytes(s.size),
      s.diskUsed === null ? '-' : `${formatBytes(s.diskUsed)} (${s.versions.length} version${s.versions.length === 1 ? '' : 's'})`,
      s.lastIngest ? s.lastIngest.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '-',
      s.source,
      s.verifiedBy ? VERIFIED_WORDS[s.verifiedBy] : '-',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  for (const status of statuses) {
    if (status.failure) lines.push(`${status.id}: last ingest failed ${status.failure.at}: ${status.failure.message}`);
    else if (status.state === 'missing files') lines.push(`${status.id}: missing ${status.missingFiles.join(', ')}`);
    if (status.verification?.startsWith('archive NOT')) lines.push(`${status.id}: ${status.verification}`);
    if (status.pinned) lines.push(`${status.id}: rolled back to ${status.pinned}; bootstation ingest ${status.id} goes to the newest release`);
  }
  output.stdout(lines.join('\n') + '\n');
  return 0;
}
