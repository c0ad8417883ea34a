// Shows download progress: one updating line on a terminal, a log line every few seconds otherwise.
import { formatProgress, type ProgressSnapshot } from './progress.ts';
import type { ProgressSink } from './download.ts';

/** Where and how often progress is shown. */
export interface ProgressReporterOptions {
  /** Label in front of every line (the image id). */
  label: string;
  /** A terminal gets one line redrawn in place; anything else gets whole lines. */
  tty: boolean;
  write: (text: string) => void;
  now: () => number;
  /** Between redraws on a terminal (default 200 ms) and between log lines otherwise (default 5 s). */
  intervalMs?: number;
}

/** Creates a sink that throttles snapshots by the clock and writes them as the output suits. */
export function createProgressReporter(options: ProgressReporterOptions): ProgressSink {
  const interval = options.intervalMs ?? (options.tty ? 200 : 5000);
  let last: number | undefined;
  let latest: ProgressSnapshot | undefined;
  let drawn = false;
  const line = (snapshot: ProgressSnapshot): string => `${options.label}: ${formatProgress(snapshot)}`;
  return {
    update(snapshot) {
      latest = snapshot;
      const now = options.now();
      // The first snapshot only starts the clock: downloads that finish within one interval print nothing.
      if (last === undefined) {
        last = now;
        return;
      }
      if (now - last < interval) return;
      last = now;
      if (options.tty) {
        // \x1b[K clears what a longer previous line left behind.
        options.write(`\r${line(snapshot)}\x1b[K`);
        drawn = true;
      } else options.write(`${line(snapshot)}\n`);
    },
    done() {
      if (options.tty && drawn && latest) options.write(`\r${line(latest)}\x1b[K\n`);
      last = undefined;
      latest = undefined;
      drawn = false;
    },
  };
}
