// Download progress text: bytes, rate, ETA. Pure: the caller passes the clock's readings.

import { formatBytes, formatDuration } from '../text/format.ts';

/** A snapshot of a download, for one progress line. */
export interface ProgressSnapshot {
  received: number;
  /** Total size when the server said it. */
  total: number | undefined;
  /** Bytes this run had already when it started (a resumed .part file). */
  resumedFrom: number;
  elapsedMs: number;
}

/** "412 MiB of 1.20 GiB (33%), 11.2 MiB/s, 1m12s left"; the rate counts only this run's bytes. */
export function formatProgress(snapshot: ProgressSnapshot): string {
  const { received, total, resumedFrom, elapsedMs } = snapshot;
  const rate = elapsedMs > 0 ? ((received - resumedFrom) * 1000) / elapsedMs : 0;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  if (total === undefined || total <= 0) return `${formatBytes(received)}, ${rateText}`;
  const percent = Math.min(100, Math.floor((received * 100) / total));
  const eta = rate > 0 ? `, ${formatDuration((total - received) / rate)} left` : '';
  return `${formatBytes(received)} of ${formatBytes(total)} (${percent}%), ${rateText}${eta}`;
}
