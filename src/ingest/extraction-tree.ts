// What one extraction has made in its folder, kept in memory, and the judgement of every path against it.
// Pure. Extraction asks this tree before it touches the disk: every parent of a path it writes must be a
// folder the tree holds (made by this extraction, never a link), and a symlink is judged by resolving its
// target through the tree's other links, so no chain of links, in any order, reaches outside.

/** What the tree holds at one path. `symlink` and `hardlink` are planned: they are made after all files. */
export type TreeNode = { kind: 'dir'; children: number } | { kind: 'file' } | { kind: 'symlink'; target: string } | { kind: 'hardlink'; target: string };

/** Where a new entry may go: the folders to make first (outermost first) and what it replaces, or why not. */
export type Placement = { ok: true; newDirs: string[]; replaces: Exclude<TreeNode['kind'], 'dir'> | undefined } | { ok: false; reason: string };

/** A symlink's verdict: inside the folder, or why not (words that follow "the link … that"). */
export type LinkVerdict = { ok: true } | { ok: false; reason: string };

// Linux follows at most 40 links in one lookup (MAXSYMLINKS) before ELOOP; a chain longer than that fails
// on the client anyway, so it is refused here.
const MAX_LINK_HOPS = 40;
// Path components one resolution may step through (targets are at most 4 KiB): real links take a handful;
// the bound keeps a hostile archive of many long links from costing more than milliseconds per link.
const MAX_RESOLVE_STEPS = 1024;

/** The in-memory tree of one extraction; paths are normalised ("a/b/c", see normalizeEntryPath). */
export class ExtractionTree {
  readonly #nodes = new Map<string, TreeNode>();

  /** What the tree holds at `path`, if anything. */
  get(path: string): TreeNode | undefined {
    return this.#nodes.get(path);
  }

  /** The planned links (symlinks and hard links), in path order. */
  plannedLinks(): Array<{ path: string; node: Extract<TreeNode, { kind: 'symlink' | 'hardlink' }> }> {
    const links: Array<{ path: string; node: Extract<TreeNode, { kind: 'symlink' | 'hardlink' }> }> = [];
    for (const [path, node] of this.#nodes) if (node.kind === 'symlink' || node.kind === 'hardlink') links.push({ path, node });
    return links.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Whether a file or link may be placed at `path`: each parent must be a folder of the tree or absent
   * (then it is made), never a file or a link; the path itself must not be a folder. A file or link
   * already there is replaced (tar lets a later entry of the same name win).
   */
  place(path: string): Placement {
    const segments = path.split('/');
    const newDirs: string[] = [];
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      const node = this.#nodes.get(parent);
      if (node === undefined) newDirs.push(parent);
      else if (node.kind === 'symlink' || node.kind === 'hardlink') return { ok: false, reason: `runs through the link ${quoted(parent)}` };
      else if (node.kind === 'file') return { ok: false, reason: `runs through ${quoted(parent)}, which is a file` };
    }
    const existing = this.#nodes.get(path);
    if (existing?.kind === 'dir') return { ok: false, reason: 'is also a folder' };
    return { ok: true, newDirs, replaces: existing?.kind };
  }

  /** Records a folder made on disk. */
  addDir(path: string): void {
    this.#set(path, { kind: 'dir', children: 0 });
  }

  /** Records a file written on disk, or a link planned at `path` (after place() said yes). */
  add(path: string, node: Exclude<TreeNode, { kind: 'dir' }>): void {
    this.#set(path, node);
  }

  /** Forgets a file or link; returns the folders left empty, innermost first (the caller removes them on disk). */
  remove(path: string): string[] {
    if (!this.#nodes.delete(path)) return [];
    const emptied: string[] = [];
    for (let parent = parentOf(path); parent !== undefined; parent = parentOf(parent)) {
      const node = this.#nodes.get(parent);
      if (node?.kind !== 'dir') break;
      node.children--;
      if (node.children > 0) break;
      this.#nodes.delete(parent);
      emptied.push(parent);
    }
    return emptied;
  }

  /**
   * Resolves the symlink planned at `path` through the final tree, following its other symlinks the way
   * the kernel will: ".." climbs from where a link led, not from where the path was written. Refused
   * when any step leaves the folder, a target is absolute, or the chain loops.
   */
  judgeSymlink(path: string): LinkVerdict {
    const node = this.#nodes.get(path);
    if (node?.kind !== 'symlink') return { ok: false, reason: 'is not a symlink' };
    const refusal = targetRefusal(node.target);
    if (refusal) return { ok: false, reason: refusal };
    const at = path.split('/').slice(0, -1);
    const pending = node.target.split('/').reverse();
    // The first link the resolution went through, to name in the message.
    let through: string | undefined;
    let hops = 0;
    let steps = 0;
    while (pending.length > 0) {
      if (++steps > MAX_RESOLVE_STEPS) return { ok: false, reason: `takes more than ${MAX_RESOLVE_STEPS} steps to resolve` };
      const segment = pending.pop()!;
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (at.length === 0) return { ok: false, reason: through === undefined ? 'climbs above the image folder' : `climbs above the image folder through the link ${quoted(through)}` };
        at.pop();
        continue;
      }
      at.push(segment);
      const reached = this.#nodes.get(at.join('/'));
      if (reached?.kind !== 'symlink') continue;
      through ??= at.join('/');
      if (++hops > MAX_LINK_HOPS) return { ok: false, reason: `runs through more than ${MAX_LINK_HOPS} links in a row (a loop)` };
      const nested = targetRefusal(reached.target);
      if (nested) return { ok: false, reason: `runs through the link ${quoted(at.join('/'))}, which ${nested}` };
      at.pop();
      pending.push(...reached.target.split('/').reverse());
    }
    return { ok: true };
  }

  #set(path: string, node: TreeNode): void {
    const before = this.#nodes.get(path);
    this.#nodes.set(path, node);
    if (before !== undefined) return;
    const parent = parentOf(path);
    const parentNode = parent === undefined ? undefined : this.#nodes.get(parent);
    if (parentNode?.kind === 'dir') parentNode.children++;
  }
}

// Archive paths in a reason are untrusted text: quoted, and cut.
function quoted(path: string): string {
  return JSON.stringify(path.slice(0, 200));
}

function parentOf(path: string): string | undefined {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? undefined : path.slice(0, slash);
}

// Targets that never stay inside, or that the file system would read differently than the archive means.
function targetRefusal(target: string): string | undefined {
  if (target === '') return 'points nowhere (an empty target)';
  if (target.startsWith('/')) return 'points to an absolute path, outside the image folder';
  if (target.includes('\\')) return 'holds a backslash in its target';
  if (target.includes('\0')) return 'holds a NUL byte in its target';
  return undefined;
}
