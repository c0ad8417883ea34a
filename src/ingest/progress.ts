// Download progress text: bytes, rate, ETA. Pure: the caller passes the clock's readings.

/** A snapshot of a download, for one progress line. */
export interface ProgressSnapshot {
  received: number;
  /** Total size when the server said it. */
  total: number | undefined;
  /** Bytes this run had already when it started (a resumed .part file). */
  resumedFrom: number;
  elapsedMs: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 1536 → "1.5 KiB"; three significant digits. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${UNITS[unit]}`;
}

/** 3725 s → "1h02m05s", 65 → "1m05s", 7 → "7s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (h > 0) return `${h}h${pad(m)}m${pad(rest)}s`;
  if (m > 0) return `${m}m${pad(rest)}s`;
  return `${rest}s`;
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
