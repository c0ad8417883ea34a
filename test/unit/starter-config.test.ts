import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { renderStarterConfig } from '../../src/appliance/starter-config.ts';

const REPO_CONFIG = new URL('../../images.yaml', import.meta.url);
const REGENERATE = `node --input-type=module -e "import('./src/appliance/starter-config.ts').then((m) => process.stdout.write(m.renderStarterConfig()))" > images.yaml`;

describe("the repository's images.yaml", () => {
  test('is the starter images.yaml the container writes on its first start', async () => {
    assert.equal(await readFile(REPO_CONFIG, 'utf8'), renderStarterConfig(), `images.yaml differs from src/appliance/starter-config.ts; regenerate it with\n  ${REGENERATE}`);
  });
});
