import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/parse.ts';
import { configProblems } from '../support/config-problems.ts';
import { recipesWithReleases, releaseSites } from '../../src/config/recipes.ts';

describe('version: without source: (recipes that find releases) and mirrors', () => {
  test('the mirror is the image\'s mirror:, else mirrors: by recipe, by site, else the recipe\'s own site', () => {
    const mirrorOf = (yaml: string): string | undefined => parseConfigText(yaml, 'images.yaml', { dataDir: '/data' }).images[0]!.ingest?.release?.mirror;
    const image = '  - {id: d, recipe: debian-netboot, version: latest}\n';
    assert.equal(mirrorOf(`images:\n${image}`), 'https://deb.debian.org/debian/');
    assert.equal(mirrorOf(`mirrors: {debian: "http://mirror.lan/debian"}\nimages:\n${image}`), 'http://mirror.lan/debian/');
    assert.equal(mirrorOf(`mirrors: {debian: "http://a/", debian-netboot: "http://b/"}\nimages:\n${image}`), 'http://b/');
    assert.equal(mirrorOf(`mirrors: {debian-netboot: "http://b/"}\nimages:\n  - {id: d, recipe: debian-netboot, version: "12", mirror: "http://c/x/"}\n`), 'http://c/x/');
    const release = parseConfigText(`images:\n  - {id: a, recipe: alpine, version: "3.20"}\n`, 'images.yaml', { dataDir: '/data' }).images[0]!.ingest;
    assert.deepEqual(release?.release, { recipe: 'alpine', version: '3.20', mirror: 'https://dl-cdn.alpinelinux.org/alpine/' });
    assert.deepEqual(release?.extract, ['boot/vmlinuz-lts', 'boot/initramfs-lts', 'boot/modloop-lts']);
  });

  test('source: still overrides: with it, version is only a label and nothing is looked up', () => {
    const [image] = parseConfigText('images:\n  - {id: d, recipe: debian-netboot, version: latest, source: {url: "https://x/netboot.tar.gz", insecure: true}}\n', 'images.yaml').images;
    assert.equal(image!.ingest?.release, undefined);
    assert.equal(image!.ingest?.from.kind === 'url' && image!.ingest.from.url, 'https://x/netboot.tar.gz');
  });

  test('validation names the recipes that find releases, and where mirror:, keyring: and mirrors: apply', () => {
    const finders = recipesWithReleases();
    for (const name of ['debian-netboot', 'arch', 'alpine', 'fedora', 'systemrescue', 'gparted', 'clonezilla']) assert.ok(finders.includes(name), `${name} finds its releases`);
    assert.ok(!finders.includes('ubuntu'));
    assert.deepEqual(configProblems('images:\n  - {id: u, recipe: ubuntu, version: latest}\n'), [
      `images.yaml:2:5: images[0].source: required (or recipe: and version: with a recipe that finds releases: ${finders.join(' ')}; or chain: URL for a menu item that runs another iPXE script)`,
    ]);
    assert.deepEqual(configProblems('images:\n  - {id: d, recipe: debian-netboot}\n'), [
      'images.yaml:2:5: images[0].source: required (or version: to let recipe debian-netboot find the release; or chain: URL for a menu item that runs another iPXE script)',
    ]);
    assert.deepEqual(configProblems('images:\n  - {id: a, recipe: alpine, version: latest, keyring: /k.gpg}\n'), [
      'images.yaml:2:55: images[0].keyring: only applies to recipes with signed releases (debian-netboot memtest86plus)',
    ]);
    assert.deepEqual(configProblems('images:\n  - {id: a, recipe: alpine, version: latest, mirror: "http://m/", source: {url: "https://x/a.tar.gz", insecure: true}}\n'), [
      'images.yaml:2:54: images[0].mirror: only applies to an image whose recipe finds its release (recipe: and version: without source:)',
    ]);
    const problems = configProblems('mirrors: {ubuntu: "http://m/"}\nimages: []\n');
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.includes(`must be a site (${releaseSites().join(' ')}) or a recipe that finds releases (${finders.join(' ')})`), problems[0]);
    for (const site of ['debian', 'archlinux', 'alpine', 'fedora', 'systemrescue', 'gparted', 'clonezilla']) assert.ok(releaseSites().includes(site), `site ${site}`);
    assert.match(configProblems('mirrors: {debian: "ftp://m/"}\nimages: []\n')[0]!, /mirrors\.debian: must be an http/);
  });
});
