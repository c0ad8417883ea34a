// The IngestContext the release-discovery tests give ingestImage: real HTTP through got, no retries or waits, and
// every info and warn line kept for assertions.
import got from 'got';
import type { IngestContext } from '../../src/ingest/ingest-image.ts';

/** An IngestContext for `dataDir` whose `lines` collects the info lines and the warnings (prefixed "warn: "). */
export function collectingIngestContext(dataDir: string): IngestContext & { lines: string[] } {
  const lines: string[] = [];
  return { dataDir, http: got, info: (line) => lines.push(line), warn: (line) => lines.push(`warn: ${line}`), sleep: async () => {}, retries: 0, lines };
}
