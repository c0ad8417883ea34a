import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderBootScript, renderMenu } from '../../src/boot/scripts.ts';
import { decideBootFile } from '../../src/boot/policy.ts';
import { bootFilesOf } from '../../src/config/model.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { recipesWithReleases } from '../../src/config/recipes.ts';
import { configProblems } from '../support/config-problems.ts';

const XYZ = `images:
  - id: netboot-xyz
    label: netboot.xyz (from the internet)
    chain: https://boot.netboot.xyz
`;

describe('chain: images', () => {
  test('a chain image has no files, no ingest and no folder that serves anything', () => {
    const config = parseConfigText(XYZ, 'images.yaml', { dataDir: '/data' });
    const [image] = config.images;
    assert.equal(image?.chain, 'https://boot.netboot.xyz');
    assert.equal(image?.ingest, undefined);
    assert.deepEqual(bootFilesOf(image!), []);
    const verdict = decideBootFile({ protocol: 'http', area: 'images', path: 'netboot-xyz/menu.ipxe' }, config, { dir: '/ipxe', files: new Map() });
    assert.deepEqual(verdict, { served: false, reason: 'unknown-image' });
  });

  test('the menu item chains the URL and falls back to the failure label; it can be the default and a host\'s image', () => {
    const config = parseConfigText(`${XYZ}menu: {default: netboot-xyz, timeout: 3}\nhosts: {"52:54:00:12:34:56": netboot-xyz}\n`, 'images.yaml');
    const menu = renderMenu({ config, serverUrl: 'http://10.0.0.1', client: { platform: 'pcbios' }, missingFiles: new Map() });
    assert.match(menu, /^item bs-image-netboot-xyz netboot\.xyz \(from the internet\)$/m);
    assert.match(menu, /--default bs-image-netboot-xyz /);
    assert.match(menu, /^:bs-image-netboot-xyz\necho Chaining netboot\.xyz \(from the internet\)\nchain --autofree https:\/\/boot\.netboot\.xyz\/ \|\| goto bs-failed\n/m);
    const boot = renderBootScript({ config, serverUrl: 'http://10.0.0.1', client: { mac: '52:54:00:12:34:56', reported: true }, missingFiles: new Map() });
    assert.match(boot, /^chain --autofree https:\/\/boot\.netboot\.xyz\/ \|\| goto bs-failed$/m);
  });

  test('chain takes one http(s) URL without spaces, and no keys of images with files', () => {
    const problems = (chain: string): string[] => configProblems(`images:\n  - id: x\n    chain: ${JSON.stringify(chain)}\n`);
    const message = 'images.yaml:3:12: images[0].chain: must be one http:// or https:// URL of at most 2048 characters, without spaces';
    const http = 'images.yaml:3:12: images[0].chain: must be an http:// or https:// URL';
    assert.deepEqual(problems('ftp://example.org/menu.ipxe'), [http]);
    assert.deepEqual(problems('file:///etc/passwd'), [http]);
    assert.deepEqual(problems('https://example.org/a menu.ipxe'), [message]);
    assert.deepEqual(problems('https://example.org/a\nshell'), [message]);
    assert.deepEqual(problems(`https://example.org/${'a'.repeat(2048)}`), [message]);
    assert.deepEqual(configProblems(`images:\n  - id: x\n    chain: https://example.org/\n    recipe: memtest86plus\n    source: {dir: /x}\n`), [
      'images.yaml:4:13: images[0].recipe: does not apply to a chain image (it runs another iPXE script and has no files)',
      'images.yaml:5:13: images[0].source: does not apply to a chain image (it runs another iPXE script and has no files)',
    ]);
  });

  test('an image without chain still needs a source', () => {
    assert.deepEqual(configProblems('images:\n  - id: x\n    boot: {kernel: k}\n'), [
      `images.yaml:2:5: images[0].source: required (or recipe: and version: with a recipe that finds releases: ${recipesWithReleases().join(' ')}; or chain: URL for a menu item that runs another iPXE script)`,
    ]);
  });
});
