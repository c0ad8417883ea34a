// The configuration in force while serving: reloaded on SIGHUP or a save of images.yaml, kept when the new file is broken.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from './load.ts';
import type { BootstationConfig } from './model.ts';

/** The configuration in force, replaced only by a new file that validates. */
export interface LiveConfig {
  current(): BootstationConfig;
  /** Re-reads the file; a broken file is logged and the last good config keeps serving. Resolves true when applied. */
  reload(reason: string): Promise<boolean>;
  /** Starts reloading when the file changes (editors replace files, so the folder is watched). */
  watchFile(): void;
  close(): void;
}

/** Wraps an already loaded config with reloads from its file. */
export function createLiveConfig(
  path: string,
  initial: BootstationConfig,
  log: Logger,
  options: { dataDir?: string; onChange?: (config: BootstationConfig) => void; onReject?: (error: Error) => void } = {},
): LiveConfig {
  let config = initial;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let pending: Promise<boolean> = Promise.resolve(true);

  const reloadNow = async (reason: string): Promise<boolean> => {
    try {
      const next = await loadConfigFile(path, { dataDir: options.dataDir });
      config = next;
      log.info({ config: path, reason, images: next.images.length }, 'configuration reloaded');
      options.onChange?.(next);
      return true;
    } catch (error) {
      log.error({ config: path, reason, err: { message: (error as Error).message } }, 'configuration rejected; the previous one stays in force');
      options.onReject?.(error as Error);
      return false;
    }
  };

  return {
    current: () => config,
    // Reloads run one after another so a slow read can never overwrite a newer config.
    reload: (reason) => (pending = pending.then(() => reloadNow(reason))),
    watchFile() {
      const file = basename(path);
      watcher = watch(dirname(path), (_event, changed) => {
        if (changed !== null && changed !== file) return;
        clearTimeout(debounce);
        // Editors write in several steps; wait until they are done.
        debounce = setTimeout(() => void this.reload('file changed'), 200);
      });
      watcher.on('error', (error) => log.warn({ err: { message: error.message } }, 'cannot watch the config file; use SIGHUP to reload'));
    },
    close() {
      clearTimeout(debounce);
      watcher?.close();
    },
  };
}
