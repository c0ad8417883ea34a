import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLiveConfig } from '../../src/config/live-config.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { captureLog } from '../support/log-capture.ts';

const dir = await mkdtemp(join(tmpdir(), 'bootstation-live-'));
after(() => rm(dir, { recursive: true, force: true }));

const configText = (title: string): string => `menu:\n  title: ${title}\nimages: []\n`;

test('a reload applies a valid new file and keeps the last good config when the new one is broken', async () => {
  const path = join(dir, 'images.yaml');
  await writeFile(path, configText('First'));
  const { log, lines } = captureLog();
  const changes: string[] = [];
  const live = createLiveConfig(path, await loadConfigFile(path), log, { onChange: (config) => changes.push(config.menu.title) });

  await writeFile(path, configText('Second'));
  assert.equal(await live.reload('test'), true, 'a valid file must be applied');
  assert.equal(live.current().menu.title, 'Second');

  await writeFile(path, 'menu:\n  title: Third\n  timeout: soon\n');
  assert.equal(await live.reload('test'), false, 'a broken file must be rejected');
  assert.equal(live.current().menu.title, 'Second', 'the last good config must stay in force');
  const rejection = lines.find((line) => line['msg'] === 'configuration rejected; the previous one stays in force');
  assert.ok(rejection, 'the rejection must be logged');
  assert.match(JSON.stringify(rejection), /images\.yaml:3:12: menu\.timeout: must be a number/, 'the log must carry the located error');

  await rm(path);
  assert.equal(await live.reload('test'), false, 'a deleted file must be rejected');
  assert.equal(live.current().menu.title, 'Second');
  assert.deepEqual(changes, ['Second'], 'onChange fires only for applied configs');
  live.close();
});

test('watching the file reloads it after an editor replaces it', async () => {
  const path = join(dir, 'watched.yaml');
  await writeFile(path, configText('Before'));
  const { log } = captureLog();
  let resolveChange: (title: string) => void = () => {};
  const changed = new Promise<string>((resolve) => (resolveChange = resolve));
  const live = createLiveConfig(path, await loadConfigFile(path), log, { onChange: (config) => resolveChange(config.menu.title) });
  live.watchFile();
  // Editors write a temporary file and rename it over the original.
  await writeFile(join(dir, 'watched.yaml.tmp'), configText('After'));
  await rename(join(dir, 'watched.yaml.tmp'), path);
  assert.equal(await changed, 'After');
  assert.equal(live.current().menu.title, 'After');
  live.close();
});
