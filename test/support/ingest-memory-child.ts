// Runs one ingest in its own process and prints its peak resident memory (VmHWM) before and after, so the
// memory test measures ingest alone, not the test runner. Arguments: images.yaml path, data directory.
import { readFile } from 'node:fs/promises';
import got from 'got';
import { loadConfigFile } from '../../src/config/load.ts';
import { ingestImage } from '../../src/ingest/ingest-image.ts';

const peak = async (): Promise<number> => 1024 * Number(/^VmHWM:\s+(\d+) kB$/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1]);
const [configPath, dataDir] = process.argv.slice(2) as [string, string];
const config = await loadConfigFile(configPath, { dataDir });
const before = await peak();
const outcome = await ingestImage(config.images[0]!, { dataDir, http: got, info: () => {}, warn: () => {} });
process.stdout.write(JSON.stringify({ status: outcome.status, files: outcome.manifest.files, peakBefore: before, peakAfter: await peak() }) + '\n');
