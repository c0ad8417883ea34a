// Properties of the pure ingest parts over random input: archive names and headers come from strangers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { detectArchiveType } from '../../src/ingest/archive-type.ts';
import { parseChecksumList } from '../../src/ingest/checksum-list.ts';
import { parseContentRange } from '../../src/ingest/content-range.ts';
import { normalizeEntryPath } from '../../src/ingest/entry-names.ts';
import { ExtractionTree } from '../../src/ingest/extraction-tree.ts';
import { compileMatcher, matchGlob } from '../../src/ingest/globs.ts';

// Names built from the characters that matter for escaping a folder.
const pathish = fc.array(fc.constantFrom('a', 'b', '.', '..', '/', '\\', '\0', ' ', '*'), { maxLength: 12 }).map((parts) => parts.join(''));
const anyName = fc.oneof(pathish, fc.string({ maxLength: 40 }));

describe('ingest parsers over random input', () => {
  test('an accepted entry name always stays inside the image folder', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const result = normalizeEntryPath(name);
        if (!result.ok) return;
        const resolved = posix.resolve('/image', result.path);
        assert.ok(resolved.startsWith('/image/'), `${JSON.stringify(name)} became ${resolved}`);
        assert.equal(posix.normalize(result.path), result.path, 'already normal: no ".", "..", or doubled slashes');
        assert.ok(!result.path.includes('\\') && !result.path.includes('\0'));
      }),
      { numRuns: 2000 },
    );
  });

  test('every prefix of every link the extraction tree accepts resolves inside the folder on the real file system', async () => {
    // The kernel is the judge: the accepted tree is made on disk (folders three levels below `base`, so a
    // climb out lands in folders that exist) and each link's target is resolved with realpath step by step.
    const base = await mkdtemp(join(tmpdir(), 'bootstation-tree-property-'));
    let run = 0;
    // Few names and many "..": chains of links through each other come up often.
    const path = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 }).map((parts) => parts.join('/'));
    const target = fc.array(fc.constantFrom('a', 'b', '.', '..', '..'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
    const entry = fc.record({ path, target: fc.option(target, { nil: undefined, freq: 3 }) });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(entry, { minLength: 2, maxLength: 8 }), async (entries) => {
          const dir = join(base, String(++run), 'x', 'y', 'image');
          await mkdir(dir, { recursive: true });
          const tree = new ExtractionTree();
          for (const { path: name, target } of entries) {
            const normalized = normalizeEntryPath(name);
            if (!normalized.ok) continue;
            const placement = tree.place(normalized.path);
            if (!placement.ok || placement.replaces) continue;
            for (const folder of placement.newDirs) {
              await mkdir(join(dir, folder));
              tree.addDir(folder);
            }
            if (target === undefined) {
              await writeFile(join(dir, normalized.path), 'file', { flag: 'wx' });
              tree.add(normalized.path, { kind: 'file' });
            } else tree.add(normalized.path, { kind: 'symlink', target });
          }
          const links = tree.plannedLinks();
          if (links.some((link) => !tree.judgeSymlink(link.path).ok)) return;
          for (const link of links) if (link.node.kind === 'symlink') await symlink(link.node.target, join(dir, link.path));
          for (const link of links) {
            if (link.node.kind !== 'symlink') continue;
            const parts = link.node.target.split('/');
            for (let k = 1; k <= parts.length; k++) {
              // A plain string, not path.join: join would fold "a/.." lexically, past the links the kernel follows.
              const resolved = await realpath(`${dir}/${posix.dirname(link.path)}/${parts.slice(0, k).join('/')}`).catch(() => undefined);
              if (resolved === undefined) break;
              assert.ok(resolved === dir || resolved.startsWith(`${dir}/`), `${link.path} → ${link.node.target} reaches ${resolved} (entries ${JSON.stringify(entries)})`);
            }
          }
        }),
        { numRuns: 1500 },
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('detection, checksum lists, Content-Range and globs never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
        detectArchiveType(bytes);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), anyName, anyName, (text, pattern, path) => {
        parseChecksumList(text);
        parseContentRange(text);
        matchGlob(pattern, path);
        compileMatcher([pattern]).matches(path);
      }),
      { numRuns: 1000 },
    );
  });

  test('a single * never matches across a slash', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,5}$/), fc.stringMatching(/^[a-z]{1,5}$/), (a, b) => {
        assert.equal(matchGlob('*', `${a}/${b}`), false);
        assert.equal(matchGlob('**', `${a}/${b}`), true);
      }),
    );
  });
});
