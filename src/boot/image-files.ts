import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootstationConfig } from '../config/model.ts';

/** Checks every image's kernel and initrds (for every firmware) on disk; returns image id → missing files (complete images absent). */
export async function findMissingBootFiles(config: BootstationConfig): Promise<Map<string, string[]>> {
  const missing = new Map<string, string[]>();
  await Promise.all(
    config.images.map(async (image) => {
      const specs = [image, ...Object.values(image.firmwareBoot ?? {})];
      const files = [...new Set(specs.flatMap((spec) => [spec.kernel, ...spec.initrds]))];
      const present = await Promise.all(files.map((file) => stat(join(image.dir, file)).then((s) => s.isFile(), () => false)));
      const absent = files.filter((_, i) => !present[i]);
      if (absent.length > 0) missing.set(image.id, absent);
    }),
  );
  return missing;
}
