import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FirstStartError, prepareFirstStart } from '../../src/appliance/first-start.ts';
import { renderStarterConfig } from '../../src/appliance/starter-config.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { RECIPE_NAMES } from '../../src/config/recipes.ts';
import { findIpxeBinaries, SEEDED_MARKER, STOCK_MARKER } from '../../src/ipxe/binaries.ts';
import { skipOrFail } from '../support/skip-policy.ts';

const dir = await mkdtemp(join(tmpdir(), 'bootstation-first-start-'));
after(() => rm(dir, { recursive: true, force: true }));
let case_ = 0;

/** A fresh container: empty volumes and the image's iPXE outputs as the ipxe stage leaves them. */
async function container(image: Record<string, string>): Promise<{ configPath: string; dataDir: string; imageIpxeDir: string }> {
  const root = join(dir, String(++case_));
  const imageIpxeDir = join(root, 'image-ipxe');
  await mkdir(imageIpxeDir, { recursive: true });
  for (const [name, content] of Object.entries(image)) await writeFile(join(imageIpxeDir, name), content);
  return { configPath: join(root, 'config', 'images.yaml'), dataDir: join(root, 'data'), imageIpxeDir };
}

describe('the starter images.yaml', () => {
  test("is valid as written: Debian's current installer and memtest86+ package found by their recipes on deb.debian.org, and netboot.xyz chained", () => {
    const text = renderStarterConfig();
    const config = parseConfigText(text, '/config/images.yaml', { dataDir: '/data' });
    assert.deepEqual(
      config.images.map((image) => [image.id, image.ingest?.recipe ?? null, image.chain ?? null]),
      [['debian-netboot', 'debian-netboot', null], ['memtest', 'memtest86plus', null], ['netboot-xyz', null, 'https://boot.netboot.xyz']],
    );
    assert.deepEqual(config.images[0]?.ingest?.release, { recipe: 'debian-netboot', version: 'latest', mirror: 'https://deb.debian.org/debian/' });
    assert.deepEqual(config.images[1]?.ingest?.release, { recipe: 'memtest86plus', version: 'latest', mirror: 'https://deb.debian.org/debian/' });
    assert.equal(config.images[1]?.label, 'Memtest86+ memory test');
    assert.equal(config.server.httpPort, 80);
    assert.match(text, /^\s+# interface: eth0/m);
  });

  test('every other recipe is a commented example, each valid once uncommented', () => {
    const uncommented = renderStarterConfig()
      .replace(/^# (hosts:|ipxe:|  )/gm, '$1');
    const config = parseConfigText(uncommented, '/config/images.yaml', { dataDir: '/data' });
    const recipes = config.images.map((image) => image.ingest?.recipe).filter(Boolean);
    assert.deepEqual([...recipes].sort(), [...RECIPE_NAMES].sort(), 'each recipe once');
    assert.ok(config.images.some((image) => image.id === 'rescue' && image.dir === '/data/netboot/rescue'));
    assert.deepEqual(config.ipxe, { keymap: 'de' });
    assert.deepEqual([...config.hosts.values()], [{ image: 'netboot-xyz' }, { keymap: 'fr' }]);
  });
});

describe('first start', () => {
  test("writes the starter config and copies stock binaries without a manifest, marked as Debian's stock ones", async () => {
    const volumes = await container({ 'undionly.kpxe': 'bios', 'ipxe.efi': 'efi', 'snponly.efi': 'snp' });
    const report = await prepareFirstStart(volumes);
    assert.deepEqual(report, { wroteStarterConfig: true, ipxe: 'seeded' });
    assert.equal(await readFile(volumes.configPath, 'utf8'), renderStarterConfig());
    const ipxeDir = join(volumes.dataDir, 'ipxe');
    assert.deepEqual((await readdir(ipxeDir)).sort(), [STOCK_MARKER, SEEDED_MARKER, 'ipxe.efi', 'snponly.efi', 'undionly.kpxe']);
    const found = await findIpxeBinaries(ipxeDir, join(volumes.dataDir, 'no-stock'));
    assert.equal(found.kind, 'stock', 'stock binaries, so serve, doctor and the dashboard say what they lack');
    assert.equal(found.dir, ipxeDir);
    assert.deepEqual(await prepareFirstStart(volumes), { wroteStarterConfig: false, ipxe: 'up-to-date' }, 'a second start changes nothing');
  });

  test("never touches the user's config or the user's own iPXE build", async () => {
    const volumes = await container({ 'undionly.kpxe': 'image bios' });
    await mkdir(join(volumes.dataDir, 'ipxe'), { recursive: true });
    await mkdir(join(volumes.configPath, '..'), { recursive: true });
    await writeFile(volumes.configPath, 'images: []\n');
    await writeFile(join(volumes.dataDir, 'ipxe', 'undionly.kpxe'), 'built with bootstation ipxe build');
    assert.deepEqual(await prepareFirstStart(volumes), { wroteStarterConfig: false, ipxe: 'kept-user-build' });
    assert.equal(await readFile(volumes.configPath, 'utf8'), 'images: []\n');
    assert.equal(await readFile(join(volumes.dataDir, 'ipxe', 'undionly.kpxe'), 'utf8'), 'built with bootstation ipxe build');
  });

  test('a newer image replaces what an older image seeded, including files it no longer has', async () => {
    const volumes = await container({ 'undionly.kpxe': 'old', 'snponly.efi': 'old snp' });
    await prepareFirstStart(volumes);
    await rm(join(volumes.imageIpxeDir, 'snponly.efi'));
    await writeFile(join(volumes.imageIpxeDir, 'undionly.kpxe'), 'new');
    assert.deepEqual(await prepareFirstStart(volumes), { wroteStarterConfig: false, ipxe: 'refreshed' });
    assert.deepEqual((await readdir(join(volumes.dataDir, 'ipxe'))).sort(), [STOCK_MARKER, SEEDED_MARKER, 'undionly.kpxe']);
    assert.equal(await readFile(join(volumes.dataDir, 'ipxe', 'undionly.kpxe'), 'utf8'), 'new');
  });

  test('an image with its own build replaces stock binaries seeded earlier, stock marker included', async () => {
    const volumes = await container({ 'undionly.kpxe': 'stock' });
    await prepareFirstStart(volumes);
    const binary = 'compiled undionly';
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    await writeFile(join(volumes.imageIpxeDir, 'undionly.kpxe'), binary);
    await writeFile(join(volumes.imageIpxeDir, 'build-record.tsv'), [`source\tv2.0.0\tabc123\t${sha('identity')}`, `output\tbios\tundionly.kpxe\t${sha(binary)}\t${sha('inputs')}\tbuilt`, ''].join('\n'));
    await writeFile(join(volumes.imageIpxeDir, 'keymap'), 'de\n');
    assert.equal((await prepareFirstStart(volumes)).ipxe, 'refreshed');
    assert.ok(!(await readdir(join(volumes.dataDir, 'ipxe'))).includes(STOCK_MARKER), 'the stock marker must go with the stock binaries');
    const found = await findIpxeBinaries(join(volumes.dataDir, 'ipxe'));
    assert.equal(found.kind, 'own-build');
  });

  test("bootstation's own build in the image gets the manifest `ipxe build` writes, so ProxyDHCP knows it", async () => {
    const binary = 'compiled undionly';
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    const record = [`source\tv2.0.0\tabc123\t${sha('identity')}`, `output\tbios\tundionly.kpxe\t${sha(binary)}\t${sha('inputs')}\tbuilt`, ''].join('\n');
    const volumes = await container({ 'undionly.kpxe': binary, 'build-record.tsv': record, keymap: 'fr\n' });
    assert.equal((await prepareFirstStart(volumes)).ipxe, 'seeded');
    const found = await findIpxeBinaries(join(volumes.dataDir, 'ipxe'));
    assert.equal(found.kind, 'own-build');
    assert.equal(found.kind === 'own-build' && found.build.keymap, 'fr');
    assert.equal(found.kind === 'own-build' && found.build.version, 'v2.0.0');
  });

  test('no iPXE outputs in the image: data/ipxe is left as it is', async () => {
    const volumes = await container({});
    assert.equal((await prepareFirstStart(volumes)).ipxe, 'no-image-binaries');
  });

  test('a config folder the container cannot write names the folder, the user and the fix', { skip: skipOrFail('first-start-unwritable-config', process.getuid?.() === 0 ? 'root writes anywhere' : undefined) }, async () => {
    const volumes = await container({});
    await mkdir(join(volumes.configPath, '..'), { recursive: true });
    await chmod(join(volumes.configPath, '..'), 0o555);
    await assert.rejects(prepareFirstStart(volumes), (error: unknown) => {
      assert.ok(error instanceof FirstStartError);
      assert.match(error.message, /config is not writable for the container's user \d+:\d+ \(EACCES\); on the host, give the mounted folder to that user \(chown -R/);
      return true;
    });
  });
});
