// Child process of scenario 6: extracts files from an ISO through bootstation's ingest code path (the ISO 9660
// reader behind openArchive, then extractArchive, which hashes and writes each file) and prints the files as JSON.
// It loads the compiled build (as `bootstation ingest` runs), whose folder is the first argument.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [build, iso, out, ...paths] = process.argv.slice(2);
if (build === undefined || iso === undefined || out === undefined || paths.length === 0) {
  process.stderr.write('usage: ingest-extract.ts BUILD_DIR ISO OUT_DIR PATH...\n');
  process.exit(2);
}
const load = (path: string): Promise<unknown> => import(pathToFileURL(join(build, path)).href);
const { openForReading } = (await load('files/boot-files.js')) as typeof import('../src/files/boot-files.ts');
const { openArchive } = (await load('ingest/archives.js')) as typeof import('../src/ingest/archives.ts');
const { extractArchive } = (await load('ingest/extract.js')) as typeof import('../src/ingest/extract.ts');

const file = await openForReading(iso);
try {
  const reader = await openArchive({ name: iso, random: file, stream: () => createReadStream(iso, { highWaterMark: 1 << 20 }) });
  const result = await extractArchive(reader, out, { archiveName: iso, extract: paths, renames: {}, required: paths }, (message) => process.stderr.write(`${message}\n`));
  process.stdout.write(`${JSON.stringify(result.files)}\n`);
} finally {
  await file.close();
}
