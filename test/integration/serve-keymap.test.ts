import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { STOCK_MARKER } from '../../src/ipxe/binaries.ts';
import { freeTcpPort, freeUdpPort, startCli, waitFor } from '../support/cli.ts';

// `bootstation serve` as a container runs it after a stock image's first start (Debian's binaries in
// data/ipxe with the stock marker), and the keyboard layout changed by saving images.yaml while it runs.
const dir = await mkdtemp(join(tmpdir(), 'bootstation-serve-keymap-'));
const configPath = join(dir, 'images.yaml');
const MAC = '52:54:00:00:00:0b';
let server: ReturnType<typeof startCli>;
let httpPort: number;

before(async () => {
  await mkdir(join(dir, 'data', 'ipxe'), { recursive: true });
  await writeFile(join(dir, 'data', 'ipxe', 'undionly.kpxe'), 'stock bios');
  await writeFile(join(dir, 'data', 'ipxe', 'ipxe.efi'), 'stock efi');
  await writeFile(join(dir, 'data', 'ipxe', STOCK_MARKER), '');
  await writeFile(configPath, 'ipxe:\n  keymap: de\n');
  httpPort = await freeTcpPort();
  server = startCli([
    'serve', '--config', configPath, '--data', join(dir, 'data'), '--address', '127.0.0.1', '--http-port', String(httpPort),
    '--tftp-port', String(await freeUdpPort()), '--dhcp-port', String(await freeUdpPort()), '--pxe-port', String(await freeUdpPort()),
  ]);
  await waitFor('bootstation to serve', async () => server.output().includes('bootstation serving'));
});

after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
});

const bootScript = async (): Promise<string> => (await fetch(`http://127.0.0.1:${httpPort}/boot.ipxe?mac=${MAC}&platform=pcbios`)).text();

test('serve warns that stock binaries are served, what they lack and how to get bootstation\'s build', async () => {
  const [line] = await server.waitForOutput(/^.*Debian's stock iPXE.*$/m);
  for (const phrase of ['your keyboard layout', "bootstation's embedded script", 'ipxe32.efi', 'snp-arm64.efi', 'bootstation ipxe build']) {
    assert.ok(line.includes(phrase), `the warning must name ${phrase}: ${line}`);
  }
});

test('saving images.yaml changes the layout boot.ipxe selects at the next boot, globally and per host', async () => {
  assert.match(await bootScript(), /^set keymap de$/m);
  await writeFile(configPath, `ipxe:\n  keymap: de\nhosts:\n  "${MAC}": {keymap: fr}\n`);
  await waitFor('boot.ipxe with the host layout', async () => /^set keymap fr$/m.test(await bootScript()));
  await writeFile(configPath, 'menu:\n  title: no layout\n');
  const script = await waitFor('boot.ipxe without a layout', async () => {
    const text = await bootScript();
    return text.includes('keymap') ? undefined : text;
  });
  assert.match(script, /menu\.ipxe/, 'the machine still gets the menu');
});
