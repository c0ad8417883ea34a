// `bootstation ingest`: ingests the named images one after the other and prints a summary.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import got from 'got';
import { loadConfigFile } from '../config/load.ts';
import { ingestSettingsOf, type ImageConfig } from '../config/model.ts';
import { redactUrl } from '../config/redact-url.ts';
import { dataLayout, imageLayout } from '../files/data-dir.ts';
import { ingestImage, readIngestState } from '../ingest/ingest-image.ts';
import { planIngest, type InstallDecision } from '../ingest/plan.ts';
import { renameGlobs } from '../ingest/renames.ts';
import { formatBytes } from '../text/format.ts';
import { createProgressReporter } from '../ingest/progress-reporter.ts';
import { UnknownImageError } from './unknown-image-error.ts';


/** Options of `bootstation ingest`. */
export interface IngestCommandOptions {
  configPath: string;
  dataDir: string;
  ids: readonly string[];
  force: boolean;
  dryRun: boolean;
}

/** Where the command writes: progress and per-image lines on stderr, the summary on stdout. */
export interface CommandOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stderrIsTty: boolean;
}

const processOutput: CommandOutput = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
};

/** `bootstation ingest [ID...]`: ingests the named images (all with a url or path source when none); exit 1 when any failed. */
export async function runIngest(options: IngestCommandOptions, output: CommandOutput = processOutput): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const config = await loadConfigFile(options.configPath, { dataDir });
  const images = selectImages(config.images, options.ids);
  if (images.length === 0) {
    output.stdout('no image in images.yaml has a url or path source; nothing to ingest\n');
    return 0;
  }
  if (options.dryRun) {
    for (const image of images) output.stdout(await describePlan(image, dataDir, options.force));
    return 0;
  }
  const results: Array<{ id: string; status: string; detail?: string }> = [];
  // Ctrl-C: nothing half-written is ever served, and the next run cleans up and resumes, so just say so.
  const interrupted = (): void => {
    output.stderr(`${output.stderrIsTty ? '\r\x1b[K' : ''}ingest interrupted: installed versions keep serving; run bootstation ingest again to resume\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    await ingestAll(images, dataDir, { force: options.force, keepVersions: ingestSettingsOf(config).keepVersions }, output, results);
  } finally {
    process.off('SIGINT', interrupted);
  }
  const count = (status: string): number => results.filter((r) => r.status === status).length;
  output.stdout(`ingest: ${count('installed')} installed, ${count('up to date')} up to date, ${count('failed')} failed\n`);
  for (const failed of results.filter((r) => r.status === 'failed')) output.stdout(`  ${failed.id}: ${failed.detail}\n`);
  return count('failed') > 0 ? 1 : 0;
}

/** Ingests `images` one after the other, saying what happens on stderr; `respectPin` for `images check`. */
export async function ingestAll(
  images: readonly ImageConfig[],
  dataDir: string,
  how: { force: boolean; keepVersions: number; respectPin?: boolean },
  output: CommandOutput,
  results: Array<{ id: string; status: string; detail?: string }>,
): Promise<void> {
  for (const image of images) {
    // On a terminal a line may interrupt the progress line: clear it first.
    const clear = output.stderrIsTty ? '\r\x1b[K' : '';
    const say = (prefix: string) => (line: string) => output.stderr(`${clear}${image.id}: ${prefix}${line}\n`);
    try {
      const outcome = await ingestImage(image, {
        dataDir,
        http: got,
        force: how.force,
        keepVersions: how.keepVersions,
        respectPin: how.respectPin === true,
        info: say(''),
        warn: say('warning: '),
        progress: (id) => createProgressReporter({ label: id, tty: output.stderrIsTty, write: output.stderr, now: Date.now }),
      });
      results.push({ id: image.id, status: outcome.status === 'installed' ? 'installed' : 'up to date' });
      if (outcome.status === 'up-to-date') say('')('up to date (source and checksum unchanged); --force ingests it again');
      if (outcome.status === 'pinned') say('')(`kept the version a rollback pinned; bootstation ingest ${image.id} installs the new release`);
    } catch (error) {
      const message = (error as Error).message;
      say('failed: ')(message);
      results.push({ id: image.id, status: 'failed', detail: message });
    }
  }
}

function selectImages(all: readonly ImageConfig[], ids: readonly string[]): ImageConfig[] {
  if (ids.length === 0) return all.filter((image) => image.ingest);
  const ingestable = all.filter((image) => image.ingest).map((image) => image.id);
  return [...new Set(ids)].map((id) => {
    const image = all.find((candidate) => candidate.id === id);
    if (!image) throw new UnknownImageError(`images.yaml has no image "${id}"; images with a url or path source: ${ingestable.join(', ') || 'none'}`);
    if (!image.ingest) throw new UnknownImageError(`image "${id}" has a dir source, which is served as it is; only url and path sources are ingested`);
    return image;
  });
}

// What an ingest would do: the plan the ingest itself follows, from images.yaml and what is on disk; touches nothing.
// URLs are printed redacted, like the ingest's own log lines: they may carry credentials.
async function describePlan(image: ImageConfig, dataDir: string, force: boolean): Promise<string> {
  const spec = image.ingest!;
  const layout = imageLayout(dataDir, image.id);
  const checksum = spec.checksum;
  const expected = checksum && 'algorithm' in checksum ? checksum : undefined;
  const state = await readIngestState(image, spec, layout, { sourceMustBeReadable: false });
  const plan = planIngest(image, spec, state, { force, expected });
  const verify = !checksum
    ? spec.from.kind === 'url'
      ? 'NOT verified (insecure: true)'
      : 'not verified (no checksum given)'
    : 'algorithm' in checksum
      ? `verified against ${checksum.algorithm} ${checksum.value}`
      : `verified against the digest that ${redactUrl(checksum.listUrl)} gives`;
  const lines: string[] = [];
  const fetch = plan.fetch;
  // A recipe's release is only known once its index is read, which a dry run does not do.
  if (spec.release) {
    lines.push(`find ${spec.release.recipe} version ${spec.release.version} on ${redactUrl(spec.release.mirror)}, download it and verify it against the digest the distro's own index gives`);
  } else if (fetch.kind === 'read-file') lines.push(`read ${fetch.path}, ${verify}`);
  else if (fetch.kind === 'read-ranges') lines.push(`read only the wanted files of ${redactUrl(fetch.url)}, ${verify}`);
  else {
    const cacheFile = join(dataLayout(dataDir).cache, fetch.cacheFile);
    const cached = fetch.reuseCache && (await stat(cacheFile).then(() => true, () => false));
    const part = await stat(`${cacheFile}.part`).then((s) => s.size, () => 0);
    const how = cached ? 'take from the cache' : part > 0 ? `resume (at ${formatBytes(part)}) the download of` : 'download';
    lines.push(`${how} ${redactUrl(fetch.url)}, ${verify}`);
  }
  lines.push(`extract ${spec.extract.join(', ')}`);
  for (const [target, globs] of Object.entries(spec.renames ?? {})) lines.push(`install ${target} (else the one file matching ${renameGlobs(globs).join(' or ')})`);
  if (spec.keepArchiveAs) lines.push(`keep the archive as ${spec.keepArchiveAs} (\${iso-url})`);
  const installedAt = state.installed?.ingestedAt ?? '';
  const decision = spec.release && state.installed && !force ? `installed ${installedAt}; compared after the release is found` : describeDecision(plan.decision, installedAt);
  lines.push(`into ${layout.link}: ${decision}`);
  return `${image.id}: would\n${lines.map((line) => `  ${line}\n`).join('')}`;
}

function describeDecision(decision: InstallDecision, installedAt: string): string {
  switch (decision.kind) {
    case 'up-to-date':
      return `up to date (installed ${installedAt}): nothing would be done`;
    case 'compare-after-checksum-list':
      return `installed ${installedAt}; compared after the checksum list is fetched`;
    case 'install':
      if (decision.why === 'not-ingested') return 'not ingested yet';
      if (decision.why === 'forced') return `installed ${installedAt}; --force ingests it again`;
      if (decision.why === 'files-missing') return `installed ${installedAt}, but boot files are missing: ingested again`;
      return `installed ${installedAt}, source or checksum changed`;
  }
}
