// `bootstation images`: prints every image's state as a table or JSON.
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { readImageStatuses } from '../ingest/image-status.ts';
import { formatBytes } from '../text/format.ts';
import type { CommandOutput } from './ingest.ts';

/** `bootstation images`: a table of every image's state, or JSON with --json. */
export async function runImages(options: { configPath: string; dataDir: string; json: boolean }, output: Pick<CommandOutput, 'stdout'> = { stdout: (t) => void process.stdout.write(t) }): Promise<number> {
  const dataDir = resolve(options.dataDir);
  const statuses = await readImageStatuses(await loadConfigFile(options.configPath, { dataDir }), dataDir);
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
