// Every relative link in README.md and docs/*.md names a file that exists, and a heading of it when it has a #anchor.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(ROOT, 'docs', name))];

// Markdown outside fenced code blocks and inline code, where a link is text, not a link.
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  for (const [, heading] of withoutFences.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Each relative link target of a markdown file: [text](target) and [text](target "title"). */
function relativeLinks(markdown: string): string[] {
  const targets = [...prose(markdown).matchAll(/\]\(([^)\s]+)(?: +"[^"]*")?\)/g)].map((match) => match[1]!);
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

test('the docs exist and link to each other', () => {
  assert.ok(DOCS.length > 2, 'docs/ holds no markdown files');
  assert.ok(relativeLinks(readFileSync(DOCS[0]!, 'utf8')).some((target) => target.startsWith('docs/')), 'README.md links to nothing under docs/');
});

for (const file of DOCS) {
  const name = relative(ROOT, file);
  test(`every relative link in ${name} names an existing file and heading`, () => {
    const broken: string[] = [];
    for (const target of relativeLinks(readFileSync(file, 'utf8'))) {
      const [path, anchor] = target.split('#', 2) as [string, string | undefined];
      const linked = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(linked)) {
        broken.push(`${target}: no file ${relative(ROOT, linked)}`);
        continue;
      }
      if (anchor === undefined || !linked.endsWith('.md') || statSync(linked).isDirectory()) continue;
      if (!headingAnchors(readFileSync(linked, 'utf8')).has(anchor)) broken.push(`${target}: ${relative(ROOT, linked)} has no heading #${anchor}`);
    }
    assert.deepEqual(broken, [], `${name} has broken links; fix the target or the heading it names`);
  });
}

test('heading anchors follow GitHub: punctuation and code marks dropped, spaces as hyphens, repeats numbered', () => {
  const anchors = headingAnchors('# images.yaml\n## Boot-file checks for `/boot.ipxe`, and more\n## Notes\n## Notes\n```\n# not a heading\n```\n');
  assert.deepEqual([...anchors], ['imagesyaml', 'boot-file-checks-for-bootipxe-and-more', 'notes', 'notes-1']);
});
