// Reads images.yaml from disk and validates it.
import { readFile } from 'node:fs/promises';
import type { BootstationConfig } from './model.ts';
import { ConfigError, parseConfigText } from './parse.ts';

/** Reads and validates a config file; errors are ConfigErrors located in that file. */
export async function loadConfigFile(path: string, options: { dataDir?: string } = {}): Promise<BootstationConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const hint = code === 'ENOENT' ? 'create it (see README) or pass --config' : 'check its permissions';
    throw new ConfigError(path, [{ line: 1, column: 1, path: '', message: `cannot be read (${code}); ${hint}` }]);
  }
  return parseConfigText(text, path, options);
}
