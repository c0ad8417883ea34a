import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExtractionTree } from '../../src/ingest/extraction-tree.ts';

/** A tree with the given entries placed in order, as extraction places them (each placement must succeed). */
function treeOf(entries: Array<[string, string | undefined]>): ExtractionTree {
  const tree = new ExtractionTree();
  for (const [path, target] of entries) {
    const placement = tree.place(path);
    assert.ok(placement.ok, `${path}: ${!placement.ok ? placement.reason : ''}`);
    for (const folder of placement.newDirs) tree.addDir(folder);
    tree.add(path, target === undefined ? { kind: 'file' } : { kind: 'symlink', target });
  }
  return tree;
}

describe('extraction tree', () => {
  test('placing a path names the folders to make, outermost first, and what it replaces', () => {
    const tree = treeOf([['boot/x/vmlinuz', undefined]]);
    assert.deepEqual(tree.place('boot/y/initrd'), { ok: true, newDirs: ['boot/y'], replaces: undefined });
    assert.deepEqual(tree.place('boot/x/vmlinuz'), { ok: true, newDirs: [], replaces: 'file' });
    assert.deepEqual(new ExtractionTree().place('a/b/c'), { ok: true, newDirs: ['a', 'a/b'], replaces: undefined });
  });

  test('a path through a link or a file, or onto a folder, is refused', () => {
    const tree = treeOf([['a/up', '..'], ['a/file', undefined]]);
    assert.deepEqual(tree.place('a/up/x'), { ok: false, reason: 'runs through the link "a/up"' });
    assert.deepEqual(tree.place('a/file/x'), { ok: false, reason: 'runs through "a/file", which is a file' });
    assert.deepEqual(tree.place('a'), { ok: false, reason: 'is also a folder' });
  });

  test('symlinks that stay inside, also through other links', () => {
    const tree = treeOf([
      ['boot/vmlinuz-6.1', undefined],
      ['boot/vmlinuz', 'vmlinuz-6.1'],
      ['boot/x/up', '../..'],
      ['boot/x/again', 'up/boot/vmlinuz'],
      ['live', 'boot'],
    ]);
    for (const path of ['boot/vmlinuz', 'boot/x/up', 'boot/x/again', 'live']) assert.deepEqual(tree.judgeSymlink(path), { ok: true }, path);
  });

  test('symlinks that leave, alone or by following other links of the archive', () => {
    const cases: Array<[Array<[string, string | undefined]>, string, string]> = [
      [[['boot/vmlinuz', '../../etc/passwd']], 'boot/vmlinuz', 'climbs above the image folder'],
      [[['vmlinuz', '/boot/vmlinuz']], 'vmlinuz', 'points to an absolute path, outside the image folder'],
      [[['vmlinuz', '']], 'vmlinuz', 'points nowhere (an empty target)'],
      // The chain: each link alone looks inside.
      [[['linux/a/b/c/l', '../../../..'], ['linux/a/b/c/esc', 'l/../../../..']], 'linux/a/b/c/esc', 'climbs above the image folder through the link "linux/a/b/c/l"'],
      // Order does not matter: the tree is judged when it is complete.
      [[['s2', 'x/s1/..'], ['x/s1', '../..']], 's2', 'climbs above the image folder through the link "x/s1"'],
      [[['x/abs', '/etc'], ['y', 'x/abs/passwd']], 'y', 'runs through the link "x/abs", which points to an absolute path, outside the image folder'],
      [[['a', 'b'], ['b', 'a']], 'a', 'runs through more than 40 links in a row (a loop)'],
    ];
    for (const [entries, path, reason] of cases) assert.deepEqual(treeOf(entries).judgeSymlink(path), { ok: false, reason }, JSON.stringify(entries));
  });

  test('removing the last entry of a folder hands back the folders left empty, innermost first', () => {
    const tree = treeOf([['a/b/c', undefined], ['a/d', 'b']]);
    assert.deepEqual(tree.remove('a/b/c'), ['a/b']);
    assert.deepEqual(tree.remove('a/d'), ['a']);
    assert.equal(tree.get('a'), undefined);
    assert.deepEqual(tree.remove('a/d'), []);
  });
});
