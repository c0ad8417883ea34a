// Child process of scenario 6: extracts files from an ISO through bootstation's ingest code path (the ISO 9660
// reader behind openArchive, then extractArchive, which hashes and writes each file) and prints the files as JSON.
import { createReadStream } from 'node:fs';
import { openForReading } from '../src/files/boot-files.ts';
import { openArchive } from '../src/ingest/archives.ts';
import { extractArchive } from '../src/ingest/extract.ts';

const [iso, out, ...paths] = process.argv.slice(2);
if (iso === undefined || out === undefined || paths.length === 0) {
  process.stderr.write('usage: ingest-extract.ts ISO OUT_DIR PATH...\n');
  process.exit(2);
}
const file = await openForReading(iso);
try {
  const reader = await openArchive({ name: iso, random: file, stream: () => createReadStream(iso, { highWaterMark: 1 << 20 }) });
  const result = await extractArchive(reader, out, { archiveName: iso, extract: paths, renames: {}, required: paths }, (message) => process.stderr.write(`${message}\n`));
  process.stdout.write(`${JSON.stringify(result.files)}\n`);
} finally {
  await file.close();
}
