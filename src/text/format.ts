// Sizes and durations as people read them, in one place for the CLI, the dashboard, ingest's messages
// and its progress lines. Pure.

/**
 * 1536 → "1.50 KiB"; three significant digits. Self-contained (no module constants, no imports): the
 * dashboard's browser script carries its source text, so the page and the server print sizes alike.
 */
export function formatBytes(bytes: number): string {
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
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
