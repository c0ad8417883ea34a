// Stable names for versioned archive files (a recipe's `renames`). Pure.
import { matchGlob } from './globs.ts';

/** A recipe's renames: target path → the glob, or globs, of the archive files that may fill it. */
export type Renames = Readonly<Record<string, string | readonly string[]>>;

/** How one rename target is filled: from the archive path `source` (equal to target when present as is). */
export interface RenameMove {
  target: string;
  source: string;
}

/** A rename that cannot be done: no file matches, or several do. */
export interface RenameProblem {
  target: string;
  /** The glob, or the globs joined with " or ", for messages. */
  glob: string;
  matches: string[];
}

/** The globs of one rename target as a list. */
export function renameGlobs(globs: string | readonly string[]): readonly string[] {
  return typeof globs === 'string' ? [globs] : globs;
}

/** Every glob of every target, for matchers that must keep the files a rename may need. */
export function allRenameGlobs(renames: Renames): string[] {
  return Object.values(renames).flatMap(renameGlobs);
}

/**
 * Resolves target → glob(s) against the archive's file paths: the target itself when the archive has it,
 * else the one file that one of the globs matches. No match leaves the target to the missing-file check;
 * several matches are a problem (which one to boot would be a guess).
 */
export function resolveRenames(renames: Renames, paths: ReadonlySet<string>): { moves: RenameMove[]; ambiguous: RenameProblem[] } {
  const moves: RenameMove[] = [];
  const ambiguous: RenameProblem[] = [];
  for (const [target, globs] of Object.entries(renames)) {
    if (paths.has(target)) continue;
    const list = renameGlobs(globs);
    const matches = [...paths].filter((path) => list.some((glob) => matchGlob(glob, path))).sort();
    if (matches.length === 1) moves.push({ target, source: matches[0]! });
    else if (matches.length > 1) ambiguous.push({ target, glob: list.join(' or '), matches });
  }
  return { moves, ambiguous };
}
