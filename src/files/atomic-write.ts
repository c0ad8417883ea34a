// Writes and copies that readers never see half done: a temporary file in the target's folder, then a rename.
import { copyFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// A file is written under a hidden temporary name in its own folder and renamed over the target, so a
// running server (or a reader of manifest.json) sees the old file or the new one, never half of one.
function temporaryFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp`);
}

/** Writes text to target atomically (temporary file in the same folder, then rename). */
export async function writeFileAtomically(target: string, content: string): Promise<void> {
  const temporary = temporaryFor(target);
  await writeFile(temporary, content);
  await rename(temporary, target);
}

/** Copies source to target atomically (temporary file in the target's folder, then rename). */
export async function copyFileAtomically(source: string, target: string): Promise<void> {
  const temporary = temporaryFor(target);
  await copyFile(source, temporary);
  await rename(temporary, target);
}
