import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, runCli, startCli, waitFor } from '../support/cli.ts';

const dir = await mkdtemp(join(tmpdir(), 'bootstation-cli-'));
after(() => rm(dir, { recursive: true, force: true }));
const shippedConfig = fileURLToPath(new URL('../../images.yaml', import.meta.url));

describe('bootstation validate', () => {
  test('the shipped images.yaml validates and the summary lists its images', async () => {
    const result = await runCli(['validate', '--config', shippedConfig]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /images\.yaml: valid/);
    assert.match(result.stdout, /debian-netboot: Debian installer: not ready, missing debian-installer\/amd64\/linux, debian-installer\/amd64\/initrd\.gz in /);
    assert.match(result.stdout, /netboot-xyz: netboot\.xyz \(menu from the internet\): ready, chains https:\/\/boot\.netboot\.xyz\n/);
  });

  test('a broken file exits 2 with the located error on stderr', async () => {
    const path = join(dir, 'broken.yaml');
    await writeFile(path, 'images:\n  - id: one\n    source:\n      dir: /srv\n    boot:\n      args: quiet\n');
    const result = await runCli(['validate', '--config', path]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim(), `${path}:6:7: images[0].boot.kernel: required`);
  });

  test('BOOTSTATION_CONFIG names the file when --config is absent', async () => {
    const result = await runCli(['validate'], { BOOTSTATION_CONFIG: join(dir, 'absent.yaml') });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /absent\.yaml:1:1: cannot be read \(ENOENT\); create it/);
  });

  test('usage errors exit 2 with the usage text', async () => {
    for (const args of [[], ['frobnicate'], ['serve', '--http-port', 'eighty'], ['validate', '--bogus']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `bootstation ${args.join(' ')} must exit 2`);
      assert.match(result.stderr, /Usage: bootstation <command>/, `bootstation ${args.join(' ')} must print the usage`);
    }
    const badLevel = await runCli(['serve', '--config', shippedConfig], { BOOTSTATION_LOG_LEVEL: 'loud' });
    assert.equal(badLevel.code, 2, 'an unknown log level is a usage error');
    assert.match(badLevel.stderr, /BOOTSTATION_LOG_LEVEL must be one of trace, debug, info/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--no-proxy-dhcp/);
  });
});

describe('bootstation serve', () => {
  const serveArgs = (config: string, httpPort: number): string[] => [
    'serve', '--config', config, '--data', join(dir, 'data'), '--address', '127.0.0.1',
    '--http-port', String(httpPort), '--no-proxy-dhcp', '--tftp-port', '0',
  ];

  test('a port that is taken gets one sentence naming the port, the service and the fix, and exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runCli(serveArgs(shippedConfig, port));
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`HTTP cannot listen on TCP port ${port} on 127\\.0\\.0\\.1: another program already listens there`));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      blocker.close();
    }
  });

  test('SIGHUP reloads images.yaml, a broken file keeps the old menu serving, SIGTERM exits 0', async () => {
    await mkdir(join(dir, 'data'), { recursive: true });
    const config = join(dir, 'serve.yaml');
    await writeFile(config, 'menu:\n  title: Before reload\n');
    const port = await freeTcpPort();
    const server = startCli(serveArgs(config, port));
    const menu = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/menu.ipxe`)).text();
    try {
      assert.match(await waitFor('the menu', menu), /^menu Before reload$/m);

      await writeFile(config, 'menu:\n  title: After reload\n');
      server.child.kill('SIGHUP');
      await waitFor('the reloaded menu', async () => /^menu After reload$/m.test(await menu()));

      await writeFile(config, 'menu:\n  title: [broken\n');
      server.child.kill('SIGHUP');
      await waitFor('the rejection in the log', async () => server.output().includes('configuration rejected'));
      assert.match(await menu(), /^menu After reload$/m, 'the last good config keeps serving');
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await server.exited, 0, server.output());
  });

  test('in a container: the environment sets address, HTTP port and ProxyDHCP, writes a starter config and seeds data/ipxe', async () => {
    const root = join(dir, 'container');
    const imageIpxe = join(root, 'image-ipxe');
    await mkdir(imageIpxe, { recursive: true });
    await writeFile(join(imageIpxe, 'undionly.kpxe'), 'stock bios');
    const port = await freeTcpPort();
    const config = join(root, 'config', 'images.yaml');
    const env = {
      BOOTSTATION_CONFIG: config,
      BOOTSTATION_DATA: join(root, 'data'),
      BOOTSTATION_IMAGE_IPXE: imageIpxe,
      BOOTSTATION_ADDRESS: '127.0.0.1',
      BOOTSTATION_HTTP_PORT: String(port),
      BOOTSTATION_PROXY_DHCP: 'false',
      BOOTSTATION_INTERFACE: '',
    };
    const server = startCli(['serve', '--tftp-port', '0'], env);
    try {
      const health = await waitFor('/healthz on the port from BOOTSTATION_HTTP_PORT', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
      assert.ok(health);
      // Answering /healthz does not mean the start-up lines have reached this process through the pipe yet.
      await server.waitForOutput(/"wroteStarterConfig":true,"ipxe":"seeded"/);
      await server.waitForOutput(/"proxyDhcp":false/);
      assert.match(await readFile(config, 'utf8'), /^# bootstation configuration/);
      assert.equal(await readFile(join(root, 'data', 'ipxe', 'undionly.kpxe'), 'utf8'), 'stock bios');
      const { healthcheckUrl, isHealthy } = await import('../../src/appliance/healthcheck.ts');
      assert.equal(await isHealthy(await healthcheckUrl(env)), true, 'the image HEALTHCHECK finds the server on the same port');
      assert.equal(await isHealthy(await healthcheckUrl({ ...env, BOOTSTATION_HTTP_PORT: String(await freeTcpPort()) })), false, 'and fails where nothing answers');
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await server.exited, 0, server.output());
    const bad = await runCli(['serve'], { ...env, BOOTSTATION_PROXY_DHCP: 'yes' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /BOOTSTATION_PROXY_DHCP must be true or false, not "yes"/);
    const badPort = await runCli(['serve'], { ...env, BOOTSTATION_HTTP_PORT: 'eighty' });
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /BOOTSTATION_HTTP_PORT must be a port number/);
  });
});
