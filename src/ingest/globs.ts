// Extract patterns over archive paths: `*` and `?` stay within one segment, `**` spans segments.
// Matching is case-sensitive, as archive paths (Rock Ridge, zip, tar) are. Pure.

/** A compiled set of patterns that answers whether an archive path is wanted. */
export interface PathMatcher {
  matches(path: string): boolean;
}

// Whether a pattern has no wildcards: such a pattern may also name a directory (everything below it).
function isLiteralPattern(pattern: string): boolean {
  return !/[*?]/.test(pattern);
}

/** Compiles one glob to an anchored regular expression over '/'-separated paths. */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/');
  let source = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '**') {
      // Zero or more whole segments; at the end, anything below.
      source += last ? '.*' : '(?:[^/]+/)*';
      return;
    }
    source += segment.replace(/\*+|\?|[.+^${}()|[\]\\]/g, (token) => (token.startsWith('*') ? '[^/]*' : token === '?' ? '[^/]' : `\\${token}`));
    if (!last) source += '/';
  });
  return new RegExp(`^${source}$`);
}

/** Whether one glob matches one path exactly. */
export function matchGlob(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(path);
}

/**
 * Compiles patterns into one matcher. A literal pattern (no wildcard) that names a directory also
 * matches everything below it, so `extract: [live]` takes the whole folder as users expect.
 */
export function compileMatcher(patterns: readonly string[]): PathMatcher {
  const literals = new Set(patterns.filter(isLiteralPattern));
  const globs = patterns.filter((p) => !isLiteralPattern(p)).map(globToRegExp);
  return {
    matches(path) {
      if (globs.some((glob) => glob.test(path))) return true;
      if (literals.has(path)) return true;
      for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
        if (literals.has(path.slice(0, slash))) return true;
      }
      return false;
    },
  };
}
