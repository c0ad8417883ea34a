// Stable names for versioned archive files (a recipe's `renames`). Pure.
import { matchGlob } from './globs.ts';

/** How one rename target is filled: from the archive path `source` (equal to target when present as is). */
export interface RenameMove {
  target: string;
  source: string;
}

/** A rename that cannot be done: no file matches, or several do. */
export interface RenameProblem {
  target: string;
  glob: string;
  matches: string[];
}

/**
 * Resolves target → glob against the archive's file paths: the target itself when the archive has it,
 * else the one file the glob matches. No match leaves the target to the missing-file check; several
 * matches are a problem (which one to boot would be a guess).
 */
export function resolveRenames(
  renames: Readonly<Record<string, string>>,
  paths: ReadonlySet<string>,
): { moves: RenameMove[]; ambiguous: RenameProblem[] } {
  const moves: RenameMove[] = [];
  const ambiguous: RenameProblem[] = [];
  for (const [target, glob] of Object.entries(renames)) {
    if (paths.has(target)) continue;
    const matches = [...paths].filter((path) => matchGlob(glob, path)).sort();
    if (matches.length === 1) moves.push({ target, source: matches[0]! });
    else if (matches.length > 1) ambiguous.push({ target, glob, matches });
  }
  return { moves, ambiguous };
}
