// The menu line of an image the server is ingesting: its download's percentage, or the failure's first clause.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BootstationConfig, ImageConfig } from '../../src/config/model.ts';
import { renderMenu, type MenuIngestState } from '../../src/boot/scripts.ts';

const image = (id: string): ImageConfig => ({ id, label: `Image ${id}`, dir: `/data/images/${id}`, kernel: 'vmlinuz', initrds: [], args: '', ingest: { from: { kind: 'path', path: '/isos/x.iso' }, insecure: false, extract: [] } });
const config: BootstationConfig = { server: { httpPort: 80, proxyDhcp: true }, menu: { title: 'Menu', timeoutSeconds: 5 }, ipxe: {}, images: ['a', 'b', 'c', 'd', 'e'].map(image), hosts: new Map() };
const missing = new Map(['a', 'b', 'c', 'd'].map((id) => [id, ['vmlinuz']]));
const states = new Map<string, MenuIngestState>([
  ['a', { kind: 'downloading', percent: 42 }],
  ['b', { kind: 'downloading' }],
  ['c', { kind: 'failed', message: `${'x'.repeat(150)}; the fix` }],
  ['d', { kind: 'failed', message: 'downloading http://h/x.iso failed 6 times in a row (HTTP 503); run ingest again later', retrying: true }],
  // e is ready (an older version serves): a new version being fetched does not take it off the menu.
  ['e', { kind: 'downloading', percent: 10 }],
]);

test('an image not ready says "downloading 42 %" or "failed: <first clause>"; a ready one stays bootable', () => {
  const menu = renderMenu({ config, serverUrl: 'http://10.0.0.2', client: { platform: 'pcbios' }, missingFiles: missing, ingestStates: states });
  assert.match(menu, /^item --gap -- Image a \(downloading 42 %\)$/m);
  assert.match(menu, /^item --gap -- Image b \(downloading\)$/m);
  assert.match(menu, new RegExp(`^item --gap -- Image c \\(failed: ${'x'.repeat(97)}\\.\\.\\.\\)$`, 'm'), 'cut to 100 characters, without the fix');
  assert.match(menu, /^item --gap -- Image d \(failed, retrying: downloading http:\/\/h\/x\.iso failed 6 times in a row \(HTTP 503\)\)$/m);
  assert.match(menu, /^item bs-image-e Image e$/m);
  const without = renderMenu({ config, serverUrl: 'http://10.0.0.2', client: { platform: 'pcbios' }, missingFiles: missing });
  assert.match(without, /^item --gap -- Image a \(not ready: missing vmlinuz\)$/m, 'without ingest states, the missing files');
});
