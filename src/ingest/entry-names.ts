// Archive entry names: refusing those that would leave the image folder, and suggesting near misses. Pure.
import { splitPlainPath } from '../files/safe-path.ts';

/** An entry path made safe to join under the image folder, or why it is refused. */
export type EntryPath = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Normalises an archive entry name ("./boot/x", "boot/dir/") and refuses names that are absolute,
 * climb with "..", hold backslashes or NUL bytes, or are empty: an archive can be hostile, and these
 * names must never reach the file system.
 */
export function normalizeEntryPath(name: string): EntryPath {
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  if (name.includes('\\')) return { ok: false, reason: 'backslash in the name' };
  const trimmed = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return { ok: false, reason: 'empty name' };
  const split = splitPlainPath(trimmed);
  if (!split.ok) return { ok: false, reason: split.reason };
  return { ok: true, path: split.segments.join('/') };
}

/** Up to `limit` archive paths that look like `wanted`: the same file name elsewhere, a longer or shorter form of it, or a few typos away. */
export function similarPaths(wanted: string, paths: Iterable<string>, limit = 3): string[] {
  const wantedName = basename(wanted).toLowerCase();
  // A third of the name may differ (vmlinuz / vmlinux), at least two characters.
  const allowed = Math.max(2, Math.floor(wantedName.length / 3));
  const scored: Array<{ path: string; score: number }> = [];
  for (const path of paths) {
    const name = basename(path).toLowerCase();
    // initrd / initrd.lz, vmlinuz / vmlinuz-6.1: one name extends the other.
    const extended = name.startsWith(wantedName) || wantedName.startsWith(name);
    const score = name === wantedName ? 0 : extended ? 1 : editDistance(name, wantedName, allowed);
    if (score <= allowed) scored.push({ path, score });
  }
  scored.sort((a, b) => a.score - b.score || a.path.localeCompare(b.path));
  return scored.slice(0, limit).map((s) => s.path);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

// Levenshtein distance, stopping early once it exceeds `cap` (names of thousands of entries are compared).
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > cap) return cap + 1;
    previous = current;
  }
  return previous[b.length]!;
}
